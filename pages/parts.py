"""What the pages use, built by the composition root (app/main.py) before serving and handed to each page.

A page function takes the root's `Startup[Parts]` as its first argument (bound by `pages.register`) and
awaits `started.ready()`: NiceGUI runs start-up in the background, so an early request waits for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.runtime import Runtime, Startup
from app.services.alerts import AlertService
from app.services.forecast_today import TodayForecast
from app.services.kiosk import KioskDevices
from components.map_patch import MapPatcher
from pages.guard import Guard
from twin.board_feed import BoardFeed
from twin.case_feed import CaseFeed
from twin.citizen_live import CitizenLive
from twin.city import CityBoard
from twin.device_feed import DeviceFeed
from twin.feed import HallFeed
from twin.grant_watch import GrantWatch
from twin.hall import HallTwin
from twin.hall_watch import HallWatches
from twin.journey_feed import JourneyFeed
from twin.staff_feed import StaffFeed
from twin.ticket_feed import TicketFeed


@dataclass(frozen=True)
class Parts:
    runtime: Runtime  # the services
    alerts: AlertService  # started after the twin, which shows what it raises
    kiosk_devices: KioskDevices  # the kiosks' hardware, from the device service (pages never import devices/)
    twin: HallTwin
    hall_feed: HallFeed  # coalesced twin changes and KPIs for the manager's page
    device_feed: DeviceFeed  # device reads and calls, relayed from the bus once per process
    boards: BoardFeed  # the call boards' shared live texts, one per board scope
    journey_feed: JourneyFeed  # ticket and case events for /track, /proxy and /review
    citizen_live: CitizenLive  # signed-in citizens' open /me/live pages, on the followed tickets' channels
    ticket_feed: TicketFeed  # followed tickets' shared live status texts (/live/track, /live/proxy)
    case_feed: CaseFeed  # the cases relatives' light pages follow, one shared text per scope (/live/proxy/.../cases)
    grant_watch: GrantWatch  # the grants relatives' light pages listen under: their sockets close when one ends
    staff_feed: StaffFeed  # staff account changes for /admin's staff tab
    patcher: MapPatcher  # the floor map's patches, computed once for every manager
    today_forecast: TodayForecast | None
    guard: Guard  # staff pages: role check and session watch
    city: CityBoard  # every hall's figures for /city, read once for all its open pages
    city_halls: HallWatches  # /city/{code}: one live replica per watched hall, shared by its drill-down pages


Started = Startup[Parts]
