"""Face camera engine: HOG detection, 128-d encodings and 1:N search over the consented gallery.

刷脸 is a convenience, never a gate. Under China's 2025 face-recognition measures (人脸识别技术应用
安全管理办法) a face must never be the only way to be identified, so every flow that calls this engine
must also offer the ID card and a staffed counter (人工兜底). The engine helps that by refusing to
guess: 'no_match', 'ambiguous' and 'no_face' are answers the caller turns into the fallback.

Privacy: the engine keeps no image and logs nothing about a query (no pixels, no encodings, no
distances). The only state it holds is the gallery built from `ConsentService.face_gallery()`;
templates reach the database only through `ConsentService.enrol_face`, which encrypts them and
binds them to a live 刷脸 consent (revoking it deletes them; rebuild the gallery afterwards).
"""

from __future__ import annotations

import logging
import threading
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image

with warnings.catch_warnings():
    # face_recognition_models imports pkg_resources (setuptools is pinned < 81 for it) and warns on import.
    warnings.filterwarnings('ignore', message='pkg_resources is deprecated', category=UserWarning)
    import face_recognition

log = logging.getLogger(__name__)

MATCH = 'match'
NO_MATCH = 'no_match'
AMBIGUOUS = 'ambiguous'
NO_FACE = 'no_face'

ENCODING_SIZE = 128
ENCODING_BYTES = ENCODING_SIZE * 8  # float64, as np.ndarray.tobytes() writes it
MAX_SIDE = 640
LANDMARK_SIDE = 320  # liveness frames: eyes and jaw are still ~10 px at a kiosk's distance
_EXACT_BELOW = 0.05  # float32 error of the matrix form at this distance is ~1e-5 for face-like norms (~1.4)

# face_recognition shares one dlib detector, shape predictor and encoder per process, and dlib's
# detectors are not safe for concurrent use: serialise the dlib calls. The 1:N search is lock-free.
_DLIB_LOCK = threading.Lock()

Landmarks = dict[str, list[tuple[float, float]]]
Location = tuple[int, int, int, int]  # top, right, bottom, left (face_recognition's order)


@dataclass(frozen=True)
class FaceResult:
    outcome: str  # 'match' | 'no_match' | 'ambiguous' | 'no_face'
    citizen_id: int | None
    distance: float | None  # best distance when a face was found


@dataclass(frozen=True, eq=False)
class Gallery:
    """An immutable snapshot of the enrolled templates: one float32 matrix, so a query is one matrix product.

    `distances` uses ||a||^2 + ||b||^2 - 2ab with the row norms precomputed; float32 keeps 100k faces in
    51 MB and within memory bandwidth. The form cancels badly near 0 (~4e-4 for identical templates, ~1e-6
    at real distances), so the few rows below `_EXACT_BELOW` are recomputed directly, and `FaceEngine.search`
    recomputes in float64 the distances it reports.
    """

    matrix: np.ndarray  # (N, 128) float32
    sq_norms: np.ndarray  # (N,) float32
    citizen_ids: np.ndarray  # (N,) int64

    @classmethod
    def build(cls, entries: list[tuple[int, bytes]]) -> Gallery:
        """Validate every template up front: a bad row must fail the load, not a query hours later."""
        for citizen_id, encoding in entries:
            if len(encoding) != ENCODING_BYTES:
                raise ValueError(
                    f'face template of citizen {citizen_id} has {len(encoding)} bytes, not {ENCODING_BYTES}'
                )
        raw = np.frombuffer(b''.join(encoding for _, encoding in entries), dtype=np.float64)
        if not np.isfinite(raw).all():
            raise ValueError('face gallery holds a template with non-finite values')
        matrix = np.ascontiguousarray(raw.reshape(len(entries), ENCODING_SIZE), dtype=np.float32)
        sq_norms = np.einsum('ij,ij->i', matrix, matrix)
        citizen_ids = np.fromiter((citizen_id for citizen_id, _ in entries), dtype=np.int64, count=len(entries))
        for array in (matrix, sq_norms, citizen_ids):
            array.flags.writeable = False  # a published snapshot never changes under a reader
        return cls(matrix, sq_norms, citizen_ids)

    def __len__(self) -> int:
        return len(self.citizen_ids)

    def distances(self, encoding: np.ndarray) -> np.ndarray:
        """Euclidean distance from `encoding` to every row, with one matrix-vector product."""
        encoding = _check_encoding(encoding)
        query = encoding.astype(np.float32)
        # einsum, not `@`: the product is memory-bound (51 MB at 100k), so BLAS threads add nothing on 2 cores,
        # and on a busy machine they made p99 3-10x worse (a descheduled worker stalls the call) and spin
        # afterwards, taking CPU from the event loop. einsum is one single-threaded pass at the same p50.
        result = np.einsum('ij,j->i', self.matrix, query)
        result *= -2.0
        result += self.sq_norms
        result += np.float32(query @ query)
        np.maximum(result, 0.0, out=result)
        np.sqrt(result, out=result)
        near = np.flatnonzero(result < _EXACT_BELOW)  # where cancellation dominates; almost always empty
        if near.size:
            result[near] = np.linalg.norm(self.matrix[near].astype(np.float64) - encoding, axis=1)
        return result


class FaceEngine:
    """Detect, encode and identify faces; safe to share between threads (the gallery swaps atomically).

    Only 'match' names a citizen. Every flow built on it must still offer the ID card and a staffed counter
    (人工兜底): after 'no_match', 'ambiguous' or 'no_face', and to anyone who would rather not use their face.
    """

    def __init__(self, *, tolerance: float = 0.5, margin: float = 0.06) -> None:
        """`tolerance`: the largest distance that still counts as the same person (face_recognition's
        customary 0.6 is loose for 1:N; 0.5 keeps strangers, typically ~0.7 away, out). `margin`: two
        different citizens both within tolerance and closer than this to each other make 'ambiguous'."""
        if not 0.0 < tolerance < 2.0:
            raise ValueError('tolerance must be between 0 and 2')
        if margin < 0.0:
            raise ValueError('margin must not be negative')
        self.tolerance = float(tolerance)
        self.margin = float(margin)
        self._gallery = Gallery.build([])

    @property
    def gallery(self) -> Gallery:
        return self._gallery

    def load_gallery(self, entries: list[tuple[int, bytes]]) -> None:
        """Replace the gallery: build the new snapshot completely, then publish it with one assignment,
        so a concurrent `identify` sees either the old gallery or the new one, never a half-built one."""
        gallery = Gallery.build(entries)
        self._gallery = gallery
        log.info('face gallery loaded: %d templates of %d citizens', len(gallery), np.unique(gallery.citizen_ids).size)

    def encode(self, image: np.ndarray) -> list[np.ndarray]:
        """Encodings (128 float64) of every face in an RGB uint8 image, largest face first."""
        small = fit_long_side(_check_image(image))
        with _DLIB_LOCK:
            locations = _largest_first(_detect(small))
            return face_recognition.face_encodings(small, known_face_locations=locations)

    def landmarks(
        self, image: np.ndarray, *, limit: int = LANDMARK_SIDE
    ) -> dict[str, list[tuple[float, float]]] | None:
        """dlib's 68 landmarks of the largest face on a small copy of the frame (liveness needs no detail), or None."""
        small = fit_long_side(_check_image(image), limit)
        with _DLIB_LOCK:
            locations = _largest_first(_detect(small))
            if not locations:
                return None
            (found,) = face_recognition.face_landmarks(small, face_locations=locations[:1])
        return {name: [(float(x), float(y)) for x, y in points] for name, points in found.items()}

    def identify(self, image: np.ndarray) -> FaceResult:
        """Who is in front of the camera? Only the largest face counts: the person at the kiosk, not passers-by."""
        small = fit_long_side(_check_image(image))
        with _DLIB_LOCK:
            locations = _largest_first(_detect(small))
            if not locations:
                return FaceResult(NO_FACE, None, None)
            (encoding,) = face_recognition.face_encodings(small, known_face_locations=locations[:1])
        return self.search(encoding)

    def search(self, encoding: np.ndarray) -> FaceResult:
        """1:N over the gallery, best template per citizen; 'no_match' and 'ambiguous' are answers, not guesses."""
        query = _check_encoding(encoding)
        gallery = self._gallery  # one read: the whole query uses one snapshot
        if not len(gallery):
            return FaceResult(NO_MATCH, None, None)
        distances = gallery.distances(query)
        best_row = int(np.argmin(distances))
        best_citizen = int(gallery.citizen_ids[best_row])
        best = _exact_distance(gallery, best_row, query)
        if best > self.tolerance:
            return FaceResult(NO_MATCH, None, best)
        others = np.where(gallery.citizen_ids == best_citizen, np.inf, distances)
        runner_row = int(np.argmin(others))
        if np.isfinite(others[runner_row]):
            runner_up = _exact_distance(gallery, runner_row, query)
            if runner_up <= self.tolerance and abs(runner_up - best) < self.margin:
                return FaceResult(AMBIGUOUS, None, min(best, runner_up))
        return FaceResult(MATCH, best_citizen, best)


def fit_long_side(image: np.ndarray, limit: int = MAX_SIDE) -> np.ndarray:
    """Downscale so the long side is at most `limit` px: HOG time grows with pixels, and a kiosk face is large."""
    height, width = image.shape[:2]
    scale = limit / max(height, width)
    if scale >= 1.0:
        return np.ascontiguousarray(image)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR))


def _check_image(image: np.ndarray) -> np.ndarray:
    """RGB uint8 as dlib needs it; grey and RGBA frames are converted rather than refused."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise ValueError('image must be a uint8 numpy array')
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = image[:, :, :3]
    if image.ndim != 3 or image.shape[2] != 3 or 0 in image.shape:
        raise ValueError(f'image must be H x W x 3 RGB, not {image.shape}')
    return image


def _check_encoding(encoding: np.ndarray) -> np.ndarray:
    query = np.asarray(encoding, dtype=np.float64)
    if query.shape != (ENCODING_SIZE,) or not np.isfinite(query).all():
        raise ValueError(f'a face encoding is {ENCODING_SIZE} finite numbers')
    return query


def _detect(image: np.ndarray) -> list[Location]:
    """HOG without upsampling: ~60 ms on 512 px instead of ~255 ms, and a face at a kiosk is never tiny."""
    return face_recognition.face_locations(image, number_of_times_to_upsample=0, model='hog')


def _largest_first(locations: list[Location]) -> list[Location]:
    return sorted(locations, key=lambda box: (box[2] - box[0]) * (box[1] - box[3]), reverse=True)


def _exact_distance(gallery: Gallery, row: int, query: np.ndarray) -> float:
    """The distance in float64 from the stored row: what face_recognition.face_distance would report."""
    return float(np.linalg.norm(gallery.matrix[row].astype(np.float64) - query))
