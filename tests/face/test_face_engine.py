from __future__ import annotations

import asyncio
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from app.face import EmbeddingMismatch, FaceEngineBusy, FaceRequestPending, ImageTooLarge, ModelsMissing, UnknownPack
from app.face.detection import Face
from app.face.engine import AsyncFaceEngine, FaceEngine, SFacePack, VerifyResult, enroll, load_engine, locate, verify
from app.face.recogniser import prepared_path
from tests.face.support import DIFFERENT_PEOPLE, PEOPLE, SAME_PERSON, group_photo, photo, photo_bytes
from tests.support.face import large_png


@pytest.fixture(scope="module")
def templates(engine: FaceEngine) -> dict[str, np.ndarray]:
    result = {}
    for name in PEOPLE:
        enrolled = enroll(engine, photo(name))
        assert enrolled.embedding is not None, name
        result[name] = enrolled.embedding
    return result


@pytest.mark.parametrize(("a", "b"), SAME_PERSON)
def test_same_person_years_apart_matches(engine: FaceEngine, templates: dict[str, np.ndarray], a: str, b: str) -> None:
    similarity = engine.compare(templates[a], templates[b])
    assert similarity >= engine.spec.threshold, (engine.spec.name, a, b, similarity)


@pytest.mark.parametrize(("a", "b"), DIFFERENT_PEOPLE)
def test_different_people_do_not_match(engine: FaceEngine, templates: dict[str, np.ndarray], a: str, b: str) -> None:
    similarity = engine.compare(templates[a], templates[b])
    assert similarity < engine.spec.threshold, (engine.spec.name, a, b, similarity)


def test_embeddings_are_unit_vectors_and_compare_is_symmetric(
    engine: FaceEngine, templates: dict[str, np.ndarray]
) -> None:
    a, b = templates["person_a_1"], templates["impostor_2"]
    assert np.linalg.norm(a) == pytest.approx(1.0, abs=1e-5)
    assert engine.compare(a, a) == pytest.approx(1.0, abs=1e-5)
    assert engine.compare(a, b) == pytest.approx(engine.compare(b, a))


def test_group_photo_has_six_faces_each_with_five_landmarks(engine: FaceEngine) -> None:
    faces = engine.analyze(group_photo())
    assert len(faces) == 6
    areas = [face.width * face.height for face in faces]
    assert areas == sorted(areas, reverse=True)
    for face in faces:
        x1, y1, x2, y2 = face.box
        assert face.landmarks.shape == (5, 2)
        assert (x1 <= face.landmarks[:, 0]).all() and (face.landmarks[:, 0] <= x2).all()
        assert (y1 <= face.landmarks[:, 1]).all() and (face.landmarks[:, 1] <= y2).all()
        assert 0.5 < face.score <= 1.0


def test_sface_embedding_equals_opencv_face_recognizer_sf(sface: FaceEngine, model_dir: Path) -> None:
    """SFace through ArcFaceONNX with mean 0 / std 1 is the same network as OpenCV's own SFace path."""
    image = photo("person_b_1")
    face = sface.analyze(image)[0]
    ours = sface.embed(image, face)
    recognizer = cv2.FaceRecognizerSF.create(str(model_dir / "sface" / "face_recognition_sface_2021dec.onnx"), "")
    row = np.concatenate([[face.box[0], face.box[1], face.width, face.height], face.landmarks.ravel(), [face.score]])
    theirs = recognizer.feature(recognizer.alignCrop(image, row.astype(np.float32))).ravel()
    assert float(np.dot(ours, theirs / np.linalg.norm(theirs))) > 0.999


def test_tight_id_photo_crop_is_found_and_matches(engine: FaceEngine, templates: dict[str, np.ndarray]) -> None:
    image = photo("person_b_1")
    x1, y1, x2, y2 = (int(v) for v in engine.analyze(image)[0].box)
    crop = np.ascontiguousarray(image[y1:y2, x1:x2])
    located = locate(engine, crop)
    assert len(located.faces) == 1
    enrolled = enroll(engine, crop)
    assert enrolled.embedding is not None
    assert engine.compare(enrolled.embedding, templates["person_b_2"]) >= engine.spec.threshold


def test_verify_reports_match_threshold_pack_and_no_findings(
    engine: FaceEngine, templates: dict[str, np.ndarray]
) -> None:
    result = verify(engine, photo("person_a_2"), templates["person_a_1"])
    assert result.match and result.similarity is not None and result.similarity >= result.threshold
    assert (result.pack, result.threshold, result.faces, result.findings) == (
        engine.spec.name,
        engine.spec.threshold,
        1,
        [],
    )
    assert set(result.to_dict()) == {"similarity", "threshold", "match", "pack", "faces", "findings"}

    other = verify(engine, photo("impostor_1"), templates["person_a_1"])
    assert not other.match


def test_verify_without_a_face_gives_no_similarity_and_a_no_face_finding(
    engine: FaceEngine, templates: dict[str, np.ndarray]
) -> None:
    result = verify(engine, np.full((480, 640, 3), 128, np.uint8), templates["person_a_1"])
    assert (result.similarity, result.match, result.faces) == (None, False, 0)
    assert [f.code for f in result.findings] == ["no_face"]


def turned(image: np.ndarray, degrees: int) -> np.ndarray:
    """The picture of a phone held turned: PIL turns counter-clockwise, so the way back is ``degrees`` clockwise."""
    return np.ascontiguousarray(np.asarray(Image.fromarray(image).rotate(degrees, expand=True)))


class CountingEngine:
    """An engine that counts its detections."""

    def __init__(self, engine: FaceEngine) -> None:
        self.engine, self.spec, self.sure_score, self.detections = engine, engine.spec, engine.sure_score, 0

    def analyze(self, image: np.ndarray) -> list[Face]:
        self.detections += 1
        return self.engine.analyze(image)

    def embed(self, image: np.ndarray, face: Face) -> np.ndarray:
        return self.engine.embed(image, face)

    def compare(self, a: np.ndarray, b: np.ndarray) -> float:
        return self.engine.compare(a, b)


@pytest.mark.parametrize("degrees", [90, 180, 270])
@pytest.mark.parametrize(("a", "b"), SAME_PERSON)
def test_a_turned_capture_is_turned_back_matches_and_asks_for_the_phone_upright(
    engine: FaceEngine, templates: dict[str, np.ndarray], a: str, b: str, degrees: int
) -> None:
    for probe, reference in ((a, b), (b, a)):
        result = verify(engine, turned(photo(probe), degrees), templates[reference])
        assert result.match and result.faces == 1, (engine.spec.name, probe, degrees, result.similarity)
        # Coaching first: the phone that sent it would film the whole exam turned.
        assert [(f.code, f.value) for f in result.findings] == [("not_upright", degrees)], result.findings
        assert "竖直" in result.findings[0].message and "upright" in result.findings[0].message_en
    impostor = verify(engine, turned(photo("impostor_1"), degrees), templates[a])
    assert not impostor.match and impostor.findings[0].code == "not_upright"


def test_a_turned_id_photo_enrols_a_template_of_the_right_way_up(engine: FaceEngine, templates: dict[str, np.ndarray]) -> None:
    enrolled = enroll(engine, turned(photo("person_b_1"), 90))
    assert enrolled.embedding is not None and enrolled.findings[0].code == "not_upright"
    assert engine.compare(enrolled.embedding, templates["person_b_2"]) >= engine.spec.threshold


def test_turned_pictures_cost_at_most_three_detections_and_a_sure_face_none(engine: FaceEngine) -> None:
    counting = CountingEngine(engine)
    located = locate(counting, photo("person_a_2"))
    assert (counting.detections, located.rotation, len(located.faces)) == (1, 0, 1)

    counting.detections = 0
    located = locate(counting, np.full((640, 480, 3), 128, np.uint8))
    # Upright, inside a border, then turned three ways: nothing anywhere is a plain no_face.
    assert (counting.detections, located.rotation, located.faces) == (5, 0, [])


def test_a_template_of_another_pack_is_refused(model_dir: Path) -> None:
    sface, buffalo = load_engine(model_dir, "sface"), load_engine(model_dir, "buffalo_s")
    template = enroll(sface, photo("person_a_1")).embedding
    assert template is not None and template.shape == (128,)
    with pytest.raises(EmbeddingMismatch) as caught:
        verify(buffalo, photo("person_a_2"), template)
    assert caught.value.code == "face_embedding_mismatch"


def test_engines_are_loaded_once_per_process(model_dir: Path) -> None:
    assert load_engine(model_dir, "sface") is load_engine(model_dir, "sface")


def test_missing_models_raise_a_clear_error_instead_of_downloading(tmp_path: Path, no_network: list[object]) -> None:
    for pack in ("sface", "buffalo_s", "buffalo_l"):
        with pytest.raises(ModelsMissing, match=pack):
            load_engine(tmp_path, pack)
    with pytest.raises(UnknownPack):
        load_engine(tmp_path, "antelopev2")
    assert no_network == []
    assert not (Path.home() / ".insightface" / "models" / "buffalo_s").exists()


@pytest.mark.anyio
async def test_async_engine_verifies_bytes_off_the_event_loop(sface: FaceEngine) -> None:
    faces = AsyncFaceEngine(sface, workers=1, max_pending=4)
    try:
        enrolled = await faces.enroll(photo_bytes("person_b_1"))
        assert enrolled.embedding is not None and enrolled.pack == "sface"
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.005)
                ticks += 1

        running = asyncio.create_task(ticker())
        same, other = await asyncio.gather(
            faces.verify(photo_bytes("person_b_2"), enrolled.embedding),
            faces.verify(photo_bytes("impostor_2"), enrolled.embedding),
        )
        running.cancel()
        assert same.match and not other.match
        assert ticks > 0  # the loop kept running while the models worked
    finally:
        faces.close()


@pytest.mark.anyio
async def test_async_engine_refuses_calls_beyond_its_bound(sface: FaceEngine) -> None:
    faces = AsyncFaceEngine(sface, workers=1, max_pending=2)
    try:
        outcomes = await asyncio.gather(*(faces.analyze(photo("person_a_2")) for _ in range(4)), return_exceptions=True)
        busy = [o for o in outcomes if isinstance(o, FaceEngineBusy)]
        done = [o for o in outcomes if not isinstance(o, BaseException)]
        assert len(busy) == 2 and len(done) == 2
        assert busy[0].code == "face_engine_busy"
        assert len((await faces.analyze(photo("person_a_2"))).faces) == 1  # free again once the queue drained
    finally:
        faces.close()


@pytest.mark.anyio
async def test_async_engine_holds_one_call_per_key(sface: FaceEngine) -> None:
    """One caller's burst takes one place; the rest of the queue stays for everyone else."""
    faces = AsyncFaceEngine(sface, workers=1, max_pending=4)
    try:
        reference = (await faces.enroll(photo_bytes("person_b_1"))).embedding
        assert reference is not None
        probe = photo_bytes("person_b_2")
        burst = [faces.verify(probe, reference, key="candidate:a") for _ in range(6)]
        outcomes = await asyncio.gather(*burst, faces.verify(probe, reference, key="candidate:b"), return_exceptions=True)
        *mine, theirs = outcomes
        pending = [o for o in mine if isinstance(o, FaceRequestPending)]
        assert len(pending) == 5 and pending[0].code == "face_request_pending"
        assert sum(isinstance(o, VerifyResult) and o.match for o in mine) == 1
        assert isinstance(theirs, VerifyResult) and theirs.match  # not busy: the burst held one place of four
        assert (await faces.verify(probe, reference, key="candidate:a")).match  # free again once done
    finally:
        faces.close()


@pytest.mark.anyio
async def test_an_oversized_picture_is_refused_before_it_takes_a_place(sface: FaceEngine) -> None:
    faces = AsyncFaceEngine(sface, workers=1, max_pending=1)
    try:
        reference = (await faces.enroll(photo_bytes("person_b_1"))).embedding
        assert reference is not None
        oversized = large_png(8000, 5000)
        running = asyncio.create_task(faces.verify(photo_bytes("person_b_2"), reference, key="candidate:a"))
        await asyncio.sleep(0)  # it takes the one place
        # Neither call below yields to the loop, so the running one cannot finish in between.
        with pytest.raises(ImageTooLarge):
            await faces.verify(oversized, reference, key="candidate:b")  # judged by its header, not queued
        with pytest.raises(FaceEngineBusy):
            await faces.verify(photo_bytes("person_b_2"), reference, key="candidate:c")  # the place was taken
        assert (await running).match
        with pytest.raises(ImageTooLarge):
            await faces.enroll(large_png(8000, 5000))  # an ID photo's budget refuses it too
    finally:
        faces.close()


def _pack_copy(model_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "models"
    (target / "sface").mkdir(parents=True)
    for name in ("face_detection_yunet_2023mar.onnx", "face_recognition_sface_2021dec.onnx"):
        (target / "sface" / name).write_bytes((model_dir / "sface" / name).read_bytes())
    return target


def test_sface_recogniser_is_prepared_once_beside_the_pack(sface: FaceEngine, model_dir: Path, tmp_path: Path) -> None:
    models = _pack_copy(model_dir, tmp_path)
    image = photo("person_a_1")
    face = sface.analyze(image)[0]
    first = SFacePack(models)
    prepared = prepared_path(models / "sface" / "face_recognition_sface_2021dec.onnx")
    assert prepared.is_file()
    written = prepared.stat().st_mtime_ns
    again = SFacePack(models)
    assert prepared.stat().st_mtime_ns == written
    assert sorted(p.name for p in (models / "sface").iterdir()) == sorted(
        ["face_detection_yunet_2023mar.onnx", "face_recognition_sface_2021dec.onnx", prepared.name]
    )
    reference = sface.embed(image, face)
    for engine in (first, again):
        assert float(np.dot(engine.embed(image, face), reference)) > 0.99999


def test_sface_loads_when_the_pack_directory_cannot_take_the_prepared_file(
    sface: FaceEngine, model_dir: Path, tmp_path: Path
) -> None:
    models = _pack_copy(model_dir, tmp_path)
    # A directory where the file would go: the rename fails as on a read-only mount (root ignores permissions).
    prepared_path(models / "sface" / "face_recognition_sface_2021dec.onnx").mkdir()
    engine = SFacePack(models)
    image = photo("person_b_1")
    face = sface.analyze(image)[0]
    assert float(np.dot(engine.embed(image, face), sface.embed(image, face))) > 0.99999
    assert not list((models / "sface").glob("*.part"))
