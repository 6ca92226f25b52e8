"""`/admin`: the admin console, one tab per job: kiosk pairing first; staff accounts, devices, the hall's
configuration, hall rules, message deliveries and the audit log each add a tab.

Admins only, checked at page load and again before every action (the session may end meanwhile).
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response
from nicegui import ui

from app.api.callers import address_of
from app.models.people import Role
from app.services.principal import Principal
from components import admin_texts as _texts  # noqa: F401 - registers the texts
from components.admin_audit import AuditPanel
from components.admin_config import ConfigPanel
from components.admin_devices import DevicesPanel
from components.admin_kiosks import KioskPairingPanel
from components.admin_messages import MessagesPanel
from components.admin_rules import RulesPanel
from components.admin_staff import StaffPanel
from components.admin_workflow import WorkflowEditorPanel
from components.frame import frame
from components.testids import tid
from components.texts import t
from pages.parts import Started


async def admin_page(started: Started, request: Request) -> Response | None:
    parts = await started.ready()
    session = await parts.guard.require(request, Role.ADMIN)
    if isinstance(session, Response):
        return session
    rt = parts.runtime
    address = address_of(request, rt.settings.trusted_proxies)

    async def caller() -> Principal | None:
        principal = await session.recheck()
        return principal.with_address(address) if principal is not None else None

    with frame(t('admin.title'), hall_name=rt.hall.name, stand_ins=rt.stand_ins):
        with tid(ui.tabs(), 'admin-tabs').classes('w-full') as tabs:
            kiosks_tab = ui.tab('kiosks', label=t('admin.tab.kiosks'))
            devices_tab = ui.tab('devices', label=t('admin.tab.devices'))
            staff_tab = ui.tab('staff', label=t('admin.tab.staff'))
            config_tab = ui.tab('config', label=t('admin.tab.config'))
            workflow_tab = tid(ui.tab('workflow', label=t('admin.tab.workflow')), 'admin-tab-workflow')
            rules_tab = tid(ui.tab('rules', label=t('admin.tab.rules')), 'admin-tab-rules')
            messages_tab = tid(ui.tab('messages', label=t('admin.tab.messages')), 'admin-tab-messages')
            audit_tab = tid(ui.tab('audit', label=t('admin.tab.audit')), 'admin-tab-audit')
        with ui.tab_panels(tabs, value=kiosks_tab).classes('w-full'):
            with ui.tab_panel(kiosks_tab):
                kiosks = KioskPairingPanel(rt.pairing, caller, tz=rt.settings.tz)
            with ui.tab_panel(devices_tab):
                devices = DevicesPanel(rt.registry, caller, live=parts.twin.devices_by_code.get, tz=rt.settings.tz)
            with ui.tab_panel(staff_tab):
                staff = StaffPanel(rt.staff_admin, caller)
            with ui.tab_panel(config_tab):
                config = ConfigPanel(rt.hall_config, rt.config_history, caller, tz=rt.settings.tz)
            with ui.tab_panel(workflow_tab):
                workflows = WorkflowEditorPanel(rt.workflows, caller, tz=rt.settings.tz)
            with ui.tab_panel(rules_tab):
                rules = RulesPanel(rt.rules, caller, tz=rt.settings.tz)
            with ui.tab_panel(messages_tab):
                messages = MessagesPanel(rt.journey.notifications, caller, tz=rt.settings.tz)
            with ui.tab_panel(audit_tab):
                audit = AuditPanel(rt.audit_log, caller)
    await kiosks.refresh()
    await devices.refresh()
    await staff.refresh()
    await config.refresh()
    await workflows.start()
    await rules.refresh()
    await messages.refresh()
    await audit.refresh()
    parts.device_feed.events.subscribe(kiosks.on_event)
    parts.device_feed.events.subscribe(devices.on_event)
    parts.twin.configured.subscribe(config.on_config)
    parts.staff_feed.changed.subscribe(staff.on_changed)
    return None
