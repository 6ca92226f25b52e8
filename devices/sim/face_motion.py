"""How the simulated camera moves its sample people: landmark frames for a blink, a head turn, or a still photo.

The sample faces are real photos (devices/sim/samples.py), but a photo cannot blink, so the simulated
camera sends the motion as the 68-point landmarks dlib would find in each frame (the names and point
counts of face_recognition's `face_landmarks`), a few pixels of hand tremor between frames, plus one real
photo for the template. Real cameras send the frames themselves (docs/device-protocol.md); both are judged
by the one rule in app/services/face_liveness.py.
"""

from __future__ import annotations

import random

BLINK = 'blink'
TURN = 'turn'
STILL = 'still'
CUES = (BLINK, TURN, STILL)

Frame = dict[str, list[tuple[float, float]]]

_OPEN = 3.0  # half the eye's opening in px (EAR 0.3 for a 20 px wide eye)
_SHUT = 0.8
_BLINK_OPENINGS = (_OPEN, _OPEN, _SHUT, _OPEN, _OPEN)
_TURN_SHIFTS = (0.0, -0.12, -0.22, -0.1, 0.1, 0.2)  # nose tip's offset, as a share of the jaw's width
_STILL_FRAMES = 5


def _eye(left: float, top: float, opening: float) -> list[tuple[float, float]]:
    """Six points in dlib's order: outer corner, two upper lid, inner corner, two lower lid."""
    return [
        (left, top),
        (left + 5, top - opening),
        (left + 15, top - opening),
        (left + 20, top),
        (left + 15, top + opening),
        (left + 5, top + opening),
    ]


def frame(*, opening: float = _OPEN, turn: float = 0.0, jitter: float = 0.0, rng: random.Random | None = None) -> Frame:
    """One frame of a face about 120 px wide; `turn` moves the nose tip sideways (yaw), `opening` the eyelids."""
    rng = rng or random.Random(0)

    def wobble(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
        return [(x + rng.uniform(-jitter, jitter), y + rng.uniform(-jitter, jitter)) for x, y in points]

    chin = [(70.0 + 7.5 * n, 150.0 + 40.0 * (1 - ((n - 8) / 8) ** 2)) for n in range(17)]
    nose_x = 130.0 + turn * 120.0
    return {
        'left_eye': wobble(_eye(90.0, 100.0, opening)),
        'right_eye': wobble(_eye(150.0, 100.0, opening)),
        'chin': wobble(chin),
        'nose_tip': wobble([(nose_x + dx, 140.0 + abs(dx) / 4) for dx in (-8.0, -4.0, 0.0, 4.0, 8.0)]),
    }


def frames(cue: str, rng: random.Random) -> list[Frame]:
    """A short sequence: a blink, a head turn, or the same still photo held up to the camera."""
    if cue == BLINK:
        return [frame(opening=opening, jitter=0.3, rng=rng) for opening in _BLINK_OPENINGS]
    if cue == TURN:
        return [frame(turn=shift, jitter=0.3, rng=rng) for shift in _TURN_SHIFTS]
    if cue == STILL:
        return [frame() for _ in range(_STILL_FRAMES)]
    raise ValueError(f'unknown cue {cue!r}')
