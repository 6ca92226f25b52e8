"""Events for pages that the twin does not signal: devices' reads and every call, relayed from the bus.

`events` re-emits CardRead, QrScanned, FaceMatched, HelpRequested, PrinterStatus, KioskPairingChanged (an
open kiosk page checks its credential again when its kiosk is re-paired or unpaired) and the registry's
DeviceRegistered, DeviceCredentialRotated and DeviceRetired (/admin redraws its device list); `calls` re-emits
TicketCalled and TicketResumed, including a recall, which changes nothing in the twin (so the twin
stays silent) but must be announced again. Both are NiceGUI Events: a page subscribes inside itself
and the subscription dies with it. One bus subscription per process, however many pages are open;
each page filters by its own devices or windows.
"""

from __future__ import annotations

from nicegui import Event as UiEvent

from app.bus import Bus, Subscription
from app.events import (
    CardRead,
    DeviceCredentialRotated,
    DeviceRegistered,
    DeviceRetired,
    Event,
    FaceMatched,
    HelpRequested,
    KioskPairingChanged,
    PrinterStatus,
    QrScanned,
    TicketCalled,
    TicketEventBase,
    TicketResumed,
)

DEVICE_EVENTS: tuple[type[Event], ...] = (
    CardRead,
    QrScanned,
    FaceMatched,
    HelpRequested,
    PrinterStatus,
    KioskPairingChanged,
    DeviceRegistered,
    DeviceCredentialRotated,
    DeviceRetired,
)
CALL_EVENTS: tuple[type[Event], ...] = (TicketCalled, TicketResumed)


class DeviceFeed:
    def __init__(self) -> None:
        self.events: UiEvent[Event] = UiEvent()
        self.calls: UiEvent[TicketEventBase] = UiEvent()
        self._subscription: Subscription | None = None

    def attach(self, bus: Bus) -> None:
        self._subscription = bus.subscribe(self.relay, *DEVICE_EVENTS, *CALL_EVENTS, name='device-feed')

    def detach(self, bus: Bus) -> None:
        if self._subscription:
            bus.unsubscribe(self._subscription)
            self._subscription = None

    def relay(self, event: Event) -> None:
        if isinstance(event, TicketCalled | TicketResumed):
            self.calls.emit(event)
        else:
            self.events.emit(event)
