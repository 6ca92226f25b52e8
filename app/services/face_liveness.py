"""Liveness for 刷脸 enrolment: a live person blinks or turns their head across a few frames; a photo does neither.

One rule for every camera. A frame is the 68-point landmarks dlib finds (face_recognition's
`face_landmarks` names: `left_eye`, `right_eye` six points each, `chin` seventeen, `nose_tip` five);
real cameras send images and the device side finds the landmarks, the simulated camera sends landmarks
itself (docs/device-protocol.md). Pure geometry here, no image and no dlib, so the rule is tested alone.

- Blink: the eye aspect ratio (EAR, Soukupová & Čech 2016) dips below `BLINK_CLOSED` in some frame with
  an open eye (EAR above `BLINK_OPEN`) both before and after it.
- Head turn: the nose tip's place between the jaw's ends (yaw, 0 = facing the camera) spans more than
  `TURN_SPAN` across the frames.
- A still photo: frames (near) identical, or moving without either cue: refused with its reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

Point = tuple[float, float]
Landmarks = Mapping[str, Sequence[Point]]

MIN_FRAMES = 3
MAX_FRAMES = 30
BLINK_CLOSED = 0.19
BLINK_OPEN = 0.25
TURN_SPAN = 0.25
STILL_MOVEMENT = 0.5  # mean landmark shift in pixels below which two frames are the same picture

BLINK = 'blink'
TURN = 'turn'
STILL = 'still_image'
NO_CUE = 'no_blink_or_turn'
TOO_FEW = 'too_few_frames'
NO_FACE = 'no_face'
REQUIRED = ('left_eye', 'right_eye', 'chin', 'nose_tip')
SIZES = {'left_eye': 6, 'right_eye': 6, 'chin': 17, 'nose_tip': 5}


@dataclass(frozen=True)
class Liveness:
    """The verdict: `live` with the cue seen (blink / turn), or not with the reason."""

    live: bool
    reason: str


def _distance(a: Point, b: Point) -> float:
    return math.hypot(a[0] - b[0], a[1] - b[1])


def eye_aspect_ratio(eye: Sequence[Point]) -> float:
    """(|p2-p6| + |p3-p5|) / (2 |p1-p4|): about 0.3 open, under 0.2 closed, whatever the face's size."""
    width = _distance(eye[0], eye[3])
    if width == 0:
        return 0.0
    return (_distance(eye[1], eye[5]) + _distance(eye[2], eye[4])) / (2.0 * width)


def yaw(frame: Landmarks) -> float:
    """Where the nose tip sits between the jaw's two ends, -0.5 .. 0.5; 0 is facing the camera."""
    chin, nose = frame['chin'], frame['nose_tip']
    left, right = chin[0][0], chin[-1][0]
    if right == left:
        return 0.0
    return (nose[2][0] - left) / (right - left) - 0.5


def _valid(frame: Landmarks) -> bool:
    try:
        return all(len(frame[name]) == SIZES[name] for name in REQUIRED)
    except (KeyError, TypeError):
        return False


def _shift(a: Landmarks, b: Landmarks) -> float:
    """Mean movement of the landmarks between two frames, in pixels."""
    pairs = [(p, q) for name in REQUIRED for p, q in zip(a[name], b[name], strict=True)]
    return sum(_distance(p, q) for p, q in pairs) / len(pairs)


def _blinked(ratios: Sequence[float]) -> bool:
    for index, ratio in enumerate(ratios):
        if ratio < BLINK_CLOSED:
            before, after = ratios[:index], ratios[index + 1 :]
            if any(r > BLINK_OPEN for r in before) and any(r > BLINK_OPEN for r in after):
                return True
    return False


def judge(frames: Sequence[Landmarks]) -> Liveness:
    """Decide from a frame sequence (oldest first) whether a live person was in front of the camera."""
    if len(frames) < MIN_FRAMES:
        return Liveness(False, TOO_FEW)
    frames = frames[:MAX_FRAMES]
    if not all(_valid(frame) for frame in frames):
        return Liveness(False, NO_FACE)
    if all(_shift(a, b) < STILL_MOVEMENT for a, b in pairwise(frames)):
        return Liveness(False, STILL)
    ratios = [(eye_aspect_ratio(f['left_eye']) + eye_aspect_ratio(f['right_eye'])) / 2 for f in frames]
    if _blinked(ratios):
        return Liveness(True, BLINK)
    yaws = [yaw(frame) for frame in frames]
    if max(yaws) - min(yaws) > TURN_SPAN:
        return Liveness(True, TURN)
    return Liveness(False, NO_CUE)
