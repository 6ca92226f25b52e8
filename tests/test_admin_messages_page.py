"""/admin's messages tab as an admin sees it: counts by kind in words, a failure's masked number and its cause."""

from __future__ import annotations

from nicegui import ui
from nicegui.testing import User
from sqlmodel import select

from app.clock import utcnow
from app.models.cases import Notification
from app.models.hall import Hall
from app.models.people import Citizen
from app.runtime import Runtime
from tests.factories import SmallHall
from tests.test_admin_page import admin_ui, as_admin

__all__ = ['admin_ui']

PHONE = '13912345678'


async def failed_text(rt: Runtime) -> None:
    """One text the provider refused (a bad number) and one page push that went out."""
    now = utcnow()
    async with rt.db.session() as s, s.begin():
        hall_id = (await s.execute(select(Hall.id))).scalars().first()
        citizen = Citizen(phone_enc=rt.deps.cipher.encrypt(PHONE, context='citizen.phone'), created_at=now)
        s.add(citizen)
        await s.flush()
        common = {'hall_id': hall_id, 'kind': 'called', 'citizen_id': citizen.id, 'created_at': now}
        s.add(
            Notification(
                dedupe_key='n:sms',
                channel='sms',
                text='请A001号到1号窗口办理',
                status='failed',
                attempts=1,
                next_attempt_at=now,
                last_error='aliyun isv.MOBILE_NUMBER_ILLEGAL: 非法手机号',
                **common,
            )
        )
        s.add(
            Notification(
                dedupe_key='n:push',
                channel='push',
                text='请A001号到1号窗口办理',
                status='sent',
                attempts=1,
                next_attempt_at=now,
                sent_at=now,
                **common,
            )
        )


async def test_an_admin_sees_a_refused_text_with_its_masked_number_and_the_providers_words(
    admin_ui: SmallHall, user: User
) -> None:
    rt = await as_admin(user)
    await failed_text(rt)
    user.find(marker='admin-tab-messages').click()
    user.find('刷新').click()
    await user.should_see(marker='admin-messages-problems', retries=50)
    (problems,) = user.find(marker='admin-messages-problems').elements
    assert isinstance(problems, ui.table)
    [row] = problems.rows
    assert (row['channel'], row['kind'], row['to'], row['status']) == ('短信', '叫号', '139****5678', '已放弃')
    assert row['reason'] == '服务商答复：非法手机号'
    (counts,) = user.find(marker='admin-messages-counts').elements
    assert isinstance(counts, ui.table)
    assert [(r['channel'], r['kind'], r['sent'], r['failed']) for r in counts.rows] == [
        ('页面推送', '叫号', 1, 0),
        ('短信', '叫号', 0, 1),
    ]
    shown = repr(problems.rows) + repr(counts.rows)
    assert PHONE not in shown and 'isv.' not in shown and 'called' not in shown
