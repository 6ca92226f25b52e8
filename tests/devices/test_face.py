"""Face engine on real photos (scikit-image's astronaut, matplotlib's Grace Hopper), and with consent on both DBs."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from PIL import Image
from skimage import data

from app.db import Database
from app.models import ConsentPurpose, ConsentScope
from app.security.crypto import FieldCipher
from app.services.citizens import find_or_create
from app.services.consent import CURRENT_TEXT_VERSIONS, ConsentService
from app.services.identity import parse_id_number
from devices.face import (  # face_recognition through devices.face, which silences its pkg_resources warning
    AMBIGUOUS,
    MATCH,
    NO_FACE,
    NO_MATCH,
    FaceEngine,
    FaceResult,
    face_recognition,
    fit_long_side,
)
from tests.callers import deps_for
from tests.conftest import FakeClock
from tests.idnumbers import make_id

ASTRONAUT, HOPPER = 7, 8


def resized(image: np.ndarray, width: int) -> np.ndarray:
    height = round(image.shape[0] * width / image.shape[1])
    return np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.BILINEAR))


def side_by_side(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    canvas = np.zeros((480, 640, 3), np.uint8)
    canvas[: left.shape[0], : left.shape[1]] = left
    canvas[: right.shape[0], 640 - right.shape[1] :] = right
    return canvas


@dataclass(frozen=True)
class Photos:
    astronaut: np.ndarray  # enrolment photo, 512 x 512
    astronaut_crop: np.ndarray  # the same person, cropped and rescaled: what the kiosk camera sees
    hopper: np.ndarray
    enrolled: np.ndarray  # encoding of `astronaut`
    probe: np.ndarray  # encoding of `astronaut_crop`
    other: np.ndarray  # encoding of `hopper`


@pytest.fixture(scope='module')
def engine() -> FaceEngine:
    return FaceEngine()


@pytest.fixture(scope='module')
def photos(engine: FaceEngine) -> Photos:
    """Encode each photo once (~0.1 s each) for the whole module."""
    astronaut = data.astronaut()
    crop = np.asarray(Image.fromarray(astronaut[0:400, 50:400]).resize((400, 457), Image.Resampling.BILINEAR))
    hopper_path = Path(matplotlib.get_data_path()) / 'sample_data' / 'grace_hopper.jpg'
    hopper = np.asarray(Image.open(hopper_path).convert('RGB'))
    (enrolled,), (probe,), (other,) = engine.encode(astronaut), engine.encode(crop), engine.encode(hopper)
    return Photos(astronaut, crop, hopper, enrolled, probe, other)


def entry(citizen_id: int, encoding: np.ndarray) -> tuple[int, bytes]:
    return citizen_id, np.asarray(encoding, dtype=np.float64).tobytes()


def random_entries(count: int, *, seed: int = 1, first_id: int = 1000) -> list[tuple[int, bytes]]:
    """Unit-ish random templates: real encodings have norm ~1.4, these sit ~1.7 away from any real face."""
    vectors = np.random.default_rng(seed).normal(0.0, 1.0 / np.sqrt(128), size=(count, 128))
    return [entry(first_id + i, vector) for i, vector in enumerate(vectors)]


def test_same_person_after_crop_and_rescale_matches_the_right_citizen(engine: FaceEngine, photos: Photos) -> None:
    engine.load_gallery([entry(HOPPER, photos.other), entry(ASTRONAUT, photos.enrolled)])
    result = engine.identify(photos.astronaut_crop)
    assert result.outcome == MATCH and result.citizen_id == ASTRONAUT
    assert result.distance is not None and 0.02 < result.distance < 0.25
    assert result.distance == pytest.approx(
        face_recognition.face_distance([photos.enrolled], photos.probe)[0], abs=1e-6
    )


def test_a_different_person_is_no_match_not_the_nearest_citizen(engine: FaceEngine, photos: Photos) -> None:
    engine.load_gallery([entry(HOPPER, photos.other)])
    result = engine.identify(photos.astronaut_crop)
    assert result == FaceResult(NO_MATCH, None, result.distance)
    assert result.distance is not None and result.distance > 0.6


def test_two_citizens_with_near_identical_templates_are_ambiguous_never_a_guess(photos: Photos) -> None:
    engine = FaceEngine()
    twin = photos.enrolled + np.random.default_rng(2).normal(0.0, 0.002, 128)
    engine.load_gallery([entry(ASTRONAUT, photos.enrolled), entry(99, twin), entry(HOPPER, photos.other)])
    result = engine.search(photos.probe)
    assert result.outcome == AMBIGUOUS and result.citizen_id is None
    assert result.distance is not None and result.distance < engine.tolerance


def test_several_templates_of_one_citizen_are_not_ambiguous(photos: Photos) -> None:
    engine = FaceEngine()
    again = photos.enrolled + np.random.default_rng(3).normal(0.0, 0.002, 128)
    engine.load_gallery([entry(ASTRONAUT, photos.enrolled), entry(ASTRONAUT, again), entry(HOPPER, photos.other)])
    assert engine.search(photos.probe).outcome == MATCH
    assert engine.search(photos.probe).citizen_id == ASTRONAUT


def test_margin_separates_a_clear_winner_from_a_close_call(photos: Photos) -> None:
    """Both rivals within tolerance: 0.10 vs 0.30 is a match, 0.10 vs 0.14 is ambiguous (margin 0.06)."""
    q = photos.probe
    u, v = np.eye(128)[0], np.eye(128)[1]
    engine = FaceEngine(tolerance=0.5, margin=0.06)
    engine.load_gallery([entry(1, q + 0.10 * u), entry(2, q + 0.30 * v)])
    assert engine.search(q) == FaceResult(MATCH, 1, pytest.approx(0.10, abs=1e-6))
    engine.load_gallery([entry(1, q + 0.10 * u), entry(2, q + 0.14 * v)])
    assert engine.search(q) == FaceResult(AMBIGUOUS, None, pytest.approx(0.10, abs=1e-6))
    engine.load_gallery([entry(1, q + 0.52 * u)])
    assert engine.search(q) == FaceResult(NO_MATCH, None, pytest.approx(0.52, abs=1e-6))


def test_a_photo_without_a_face_is_no_face(engine: FaceEngine, photos: Photos) -> None:
    engine.load_gallery([entry(ASTRONAUT, photos.enrolled)])
    assert engine.identify(data.camera()) == FaceResult(NO_FACE, None, None)  # grey frames are accepted
    assert engine.encode(np.zeros((480, 640, 3), np.uint8)) == []


def test_only_the_largest_face_counts(engine: FaceEngine, photos: Photos) -> None:
    engine.load_gallery([entry(ASTRONAUT, photos.enrolled), entry(HOPPER, photos.other)])
    astronaut_near = side_by_side(resized(photos.astronaut, 480), resized(photos.hopper, 160))
    hopper_near = side_by_side(resized(photos.astronaut, 320), resized(photos.hopper, 300))
    assert engine.identify(astronaut_near).citizen_id == ASTRONAUT
    assert engine.identify(hopper_near).citizen_id == HOPPER
    first, second = engine.encode(astronaut_near)  # largest first
    assert face_recognition.face_distance([photos.enrolled, photos.other], first).argmin() == 0
    assert face_recognition.face_distance([photos.enrolled, photos.other], second).argmin() == 1


def test_large_frames_are_downscaled_before_detection(engine: FaceEngine, photos: Photos) -> None:
    big = resized(photos.astronaut, 1600)
    assert fit_long_side(big).shape == (640, 640, 3)
    assert fit_long_side(photos.astronaut).shape == (512, 512, 3)  # small frames are left alone
    engine.load_gallery([entry(ASTRONAUT, photos.enrolled)])
    result = engine.identify(big)
    assert result.outcome == MATCH and result.citizen_id == ASTRONAUT


def test_search_finds_the_citizen_among_10k_random_templates(photos: Photos) -> None:
    engine = FaceEngine()
    entries = random_entries(10_000)
    entries.insert(4321, entry(ASTRONAUT, photos.enrolled))
    engine.load_gallery(entries)
    assert engine.gallery.matrix.shape == (10_001, 128) and engine.gallery.matrix.dtype == np.float32
    result = engine.search(photos.probe)
    assert result.outcome == MATCH and result.citizen_id == ASTRONAUT
    assert engine.search(photos.other).outcome == NO_MATCH


def test_matrix_distances_equal_face_distance(photos: Photos) -> None:
    entries = [entry(ASTRONAUT, photos.enrolled), entry(HOPPER, photos.other), *random_entries(2_000, seed=4)]
    engine = FaceEngine()
    engine.load_gallery(entries)
    known = np.array([np.frombuffer(encoding) for _, encoding in entries])
    for query in (photos.probe, photos.other, known[100], known[100] + 0.002, known[100] + 0.01):
        expected = face_recognition.face_distance(known, query)
        np.testing.assert_allclose(engine.gallery.distances(query), expected, rtol=0, atol=1e-4)
    # the reported distance is recomputed in float64, exact even at 0 where the matrix form cancels
    assert engine.search(photos.enrolled).distance == pytest.approx(0.0, abs=1e-6)


def test_load_gallery_swaps_atomically_under_concurrent_searches(photos: Photos) -> None:
    engine = FaceEngine()
    small = [entry(1, photos.enrolled)]
    large = [*random_entries(3_000, seed=5), entry(2, photos.enrolled)]
    engine.load_gallery(small)
    seen: set[int | None] = set()
    errors: list[BaseException] = []
    stop = threading.Event()

    def searcher() -> None:
        try:
            while not stop.is_set():
                result = engine.search(photos.probe)
                assert result.outcome == MATCH, result
                seen.add(result.citizen_id)
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=searcher) for _ in range(3)]
    for thread in threads:
        thread.start()
    for i in range(60):
        engine.load_gallery(large if i % 2 == 0 else small)
    stop.set()
    for thread in threads:
        thread.join()
    assert not errors
    assert seen <= {1, 2}
    assert not engine.gallery.matrix.flags.writeable


def test_bad_input_is_refused(engine: FaceEngine) -> None:
    with pytest.raises(ValueError):
        FaceEngine().load_gallery([(1, b'\x00' * 100)])
    with pytest.raises(ValueError):
        FaceEngine().load_gallery([(1, np.full(128, np.nan).tobytes())])
    with pytest.raises(ValueError):
        engine.search(np.zeros(64))
    with pytest.raises(ValueError):
        engine.identify(np.zeros((64, 64, 3), np.float32))
    with pytest.raises(ValueError):
        FaceEngine(tolerance=0)
    assert FaceEngine().search(np.zeros(128)) == FaceResult(NO_MATCH, None, None)  # empty gallery


def test_a_query_logs_nothing(engine: FaceEngine, photos: Photos, caplog: pytest.LogCaptureFixture) -> None:
    engine.load_gallery([entry(ASTRONAUT, photos.enrolled)])
    with caplog.at_level(logging.DEBUG):
        engine.identify(photos.astronaut_crop)
        engine.search(photos.other)
    assert caplog.records == []
    assert all(not isinstance(value, np.ndarray) for value in vars(engine).values())  # no frame kept


async def test_enrolled_under_consent_identifies_until_revoked(
    db: Database, cipher: FieldCipher, clock: FakeClock, photos: Photos
) -> None:
    async with db.session() as s, s.begin():
        facts = parse_id_number(make_id(dt.date(1986, 3, 9)), today=clock.now.date())
        citizen = await find_or_create(s, cipher, facts, now=clock.now, update_contact=True)
        citizen_id = citizen.id
    assert citizen_id is not None
    consents = ConsentService(deps_for(db, clock=clock, cipher=cipher))
    face = ConsentPurpose.FACE_TICKET
    consent = await consents.grant(
        citizen_id, face, ConsentScope.SAME_KIND, text_version=CURRENT_TEXT_VERSIONS[face], channel='kiosk'
    )
    assert consent.id is not None
    engine = FaceEngine()
    (template,) = engine.encode(photos.astronaut)
    await consents.enrol_face(citizen_id, template.tobytes(), consent_id=consent.id)

    engine.load_gallery(await consents.face_gallery())
    result = engine.identify(photos.astronaut_crop)
    assert result.outcome == MATCH and result.citizen_id == citizen_id
    assert (await consents.require(citizen_id, face)).id == consent.id

    await consents.revoke(consent.id, citizen_id=citizen_id)
    engine.load_gallery(await consents.face_gallery())
    assert len(engine.gallery) == 0
    assert engine.identify(photos.astronaut_crop) == FaceResult(NO_MATCH, None, None)
