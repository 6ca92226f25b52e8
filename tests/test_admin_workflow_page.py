"""/admin's workflow tab in NiceGUI's simulated browser: an admin edits a workflow and the next case runs it."""

from __future__ import annotations

from nicegui import ui
from nicegui.testing import User

from app.models import TicketCreate
from app.services.principal import Principal
from app.services.workflow import ACTIVE, DONE, PENDING
from tests.callers import DESK
from tests.factories import SmallHall
from tests.test_admin_page import PATIENT, admin_ui, as_admin

__all__ = ['admin_ui']  # the fixture, shared with the kiosk pairing tab's tests


def choose(user: User, marker: str, value: str) -> None:
    (select,) = user.find(marker=marker).elements
    assert isinstance(select, ui.select)
    select.set_value(value)


async def test_an_admin_adds_a_parallel_stage_drags_it_before_the_end_and_the_next_case_runs_it(
    admin_ui: SmallHall, user: User
) -> None:
    rt = await as_admin(user)
    user.find(marker='admin-tab-workflow').click()
    await user.should_see(marker='workflow-stage-0', retries=PATIENT)
    choose(user, 'workflow-service', 'SVC-C')
    await user.should_see('事项丙审批', retries=PATIENT)  # the default workflow: 受理, 审批, 办结
    await user.should_see('该事项的流程尚未修改过')

    user.find(marker='workflow-add-parallel').click()
    await user.should_see(marker='workflow-stage-3', retries=PATIENT)
    await user.should_see('2 个部门并联')
    user.find(marker='workflow-stage-3-handle').trigger('dragstart')
    user.find(marker='workflow-stage-2').trigger('drop')
    await user.should_see(marker='workflow-node-3-0-name', content='办结', retries=PATIENT)  # the pair is stage 3 now
    await user.should_see(marker='workflow-node-2-1-name', content='部门审批2')
    await user.should_see(marker='workflow-problem', content='流程检查通过')

    user.find(marker='workflow-node-2-0-name').clear()
    await user.should_see(marker='workflow-problem', content='第 3 步有环节未填写名称', retries=PATIENT)
    (save,) = user.find(marker='workflow-save').elements
    assert not save.enabled, 'a workflow that could not run cannot be saved'
    user.find(marker='workflow-node-2-0-name').type('公安审批')
    await user.should_see(marker='workflow-problem', content='流程检查通过', retries=PATIENT)

    user.find(marker='workflow-save').click()
    await user.should_see('已保存为第 1 版', retries=PATIENT)
    await user.should_see(marker='workflow-version-1', retries=PATIENT)

    await rt.queue.take_ticket(TicketCreate(service_code='SVC-C'), caller=DESK)
    called = await rt.queue.call_next(admin_ui.window_4, caller=DESK)
    view = await rt.cases.open_case(called.ticket.id or 0, actor='w04')
    assert [(n.stage, n.name, n.status) for n in view.nodes] == [
        (0, '受理', DONE),
        (1, '事项丙审批', ACTIVE),
        (2, '公安审批', PENDING),
        (2, '部门审批2', PENDING),
        (3, '办结', PENDING),
    ]


async def test_moving_a_step_by_its_buttons_and_restoring_an_old_version(admin_ui: SmallHall, user: User) -> None:
    rt = await as_admin(user)
    user.find(marker='admin-tab-workflow').click()
    choose(user, 'workflow-service', 'SVC-C')
    await user.should_see('事项丙审批', retries=PATIENT)
    user.find(marker='workflow-add-review').click()
    await user.should_see(marker='workflow-stage-3', retries=PATIENT)
    user.find(marker='workflow-stage-3-up').click()  # 材料审核 before 办结
    await user.should_see(marker='workflow-node-3-0-name', content='办结', retries=PATIENT)
    user.find(marker='workflow-node-2-0-up').click()  # and in parallel with 事项丙审批
    await user.should_see(marker='workflow-node-1-1-name', content='材料审核', retries=PATIENT)
    await user.should_not_see(marker='workflow-stage-3')
    user.find(marker='workflow-save').click()
    await user.should_see('已保存为第 1 版', retries=PATIENT)
    await user.should_see(marker='workflow-version-1', retries=PATIENT)  # reloaded: the saved one is drawn
    user.find(marker='workflow-node-1-1-remove').click()
    await user.should_not_see(marker='workflow-node-1-1', retries=PATIENT)
    user.find(marker='workflow-save').click()
    await user.should_see('已保存为第 2 版', retries=PATIENT)
    await user.should_see(marker='workflow-restore-1', retries=PATIENT)

    user.find(marker='workflow-restore-1').click()
    await user.should_see('已恢复第 1 版，保存为第 3 版', retries=PATIENT)
    await user.should_see(marker='workflow-node-1-1-name', content='材料审核', retries=PATIENT)
    versions = await rt.workflows.versions(Principal.system('test'), 'SVC-C')
    assert [(v.version, v.actor) for v in versions] == [(3, 'adm01'), (2, 'adm01'), (1, 'adm01')]
