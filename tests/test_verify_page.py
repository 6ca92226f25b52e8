"""/verify in NiceGUI's simulated browser: an uploaded file is read only if it can be a certificate."""

from __future__ import annotations

from nicegui import ui
from nicegui.elements.upload_files import SmallFileUpload
from nicegui.testing import User

from app.services.certificates import MAX_PRESENTED_BYTES
from tests.factories import SmallHall

VERIFY = '/verify/HT20260101-0000000000'


class UnreadableUpload(SmallFileUpload):
    """An upload the page may measure but must not read."""

    async def read(self) -> bytes:
        raise AssertionError('the page read a file larger than any certificate')


async def _upload(user: User, file: SmallFileUpload) -> None:
    with user:
        [upload] = user.find(ui.upload).elements
        await upload.handle_uploads([file])


async def test_a_file_larger_than_any_certificate_is_refused_by_its_size_without_being_read(
    ui_hall: SmallHall, user: User
) -> None:
    await user.open(VERIFY)
    await _upload(user, UnreadableUpload('c.json', 'application/json', b'{}' + b' ' * (MAX_PRESENTED_BYTES - 1)))
    await user.should_see(marker='verify-error', content='文件过大')


async def test_a_file_of_certificate_size_is_read_and_checked(ui_hall: SmallHall, user: User) -> None:
    await user.open(VERIFY)
    await _upload(user, SmallFileUpload('c.json', 'application/json', b'not json'))
    await user.should_see(marker='verify-error', content='不是有效的电子证照')
    await _upload(user, SmallFileUpload('c.json', 'application/json', b'{}' + b' ' * (MAX_PRESENTED_BYTES - 2)))
    await user.should_not_see(marker='verify-error', content='电子证照')  # read, parsed, no error left
