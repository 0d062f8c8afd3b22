"""Property-based fuzzing of everything a user hands siamtrack: box strings, frames, configs, frame
sequences (also changing size and dtype), command lines, file names (any bytes) and a second run
on a running run's output.

The properties: the API returns finite boxes or raises :class:`SiamtrackError`; the CLI exits 0,
or 2 with one ``error:`` line, never a traceback. The ``ci`` Hypothesis profile (default) keeps
this file within a minute; ``--hypothesis-profile=long`` runs 2,000 examples per test. Cases
Hypothesis found are kept as ``@example`` lines and in ``tests/test_regressions.py``.
"""
from __future__ import annotations

import contextlib
import functools
import io
import math
import os
import string
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import yaml
from hypothesis import event, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from siamtrack.checkpoints import save_atomic
from siamtrack.cli import main as cli_main
from siamtrack.config import Config, ModelConfig, TrackerConfig, config_from_dict
from siamtrack.data.images import to_bgr
from siamtrack.data.sources import FrameList
from siamtrack.errors import SiamtrackError
from siamtrack.models import build_model
from siamtrack.tracking.builder import build_tracker
from siamtrack.tracking.tracker import validate_box
from siamtrack.tracking.video import RunOutputs, parse_box

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")  # overflow, NaN: a bug even if it runs on
# No subnormal floats: the tracker flushes denormals on CPUs (torch.set_flush_denormal), and under
# that Hypothesis cannot generate them.
floats = functools.partial(st.floats, allow_subnormal=False)
PIXELS = build_model(ModelConfig(backbone="pixels"))

numbers = st.one_of(floats(allow_nan=True, allow_infinity=True), st.integers(-10**6, 10**6),
                    st.sampled_from([0.0, -0.0, 1e-300, 1e154, 1e200, 1e308, -1e308]))
frame_shapes = st.one_of(st.tuples(st.integers(1, 64), st.integers(1, 64)),
                         st.sampled_from([(1, 1), (1, 3000), (3000, 1), (2, 900), (480, 640)]))


def finite_box(box: np.ndarray) -> bool:
    return box.shape[-1] == 4 and bool(np.all(np.isfinite(box))) and bool(np.all(box[..., 2:] > 0))


# ----------------------------------------------------------------------------- boxes
@given(text=st.one_of(st.text(max_size=40),
                      st.lists(numbers, min_size=0, max_size=6).map(lambda v: ",".join(map(repr, v))),
                      st.lists(st.text(string.digits + ".-e+naif", max_size=8), max_size=5).map(",".join)),
       shape=frame_shapes)
@example(text="0,0,1e200,1e200", shape=(480, 640))
@example(text="0,0,1e154,1e154", shape=(480, 640))
@example(text="0,0,1e-300,5", shape=(480, 640))
def test_box_strings_are_a_box_or_an_error(text: str, shape: tuple[int, int]) -> None:
    try:
        box = validate_box(parse_box(text), shape)
    except SiamtrackError as exc:
        assert str(exc)
        return
    assert finite_box(box)


# ----------------------------------------------------------------------------- frames
frame_dtypes = st.sampled_from([np.uint8, np.uint16, np.int8, np.int32, np.int64, np.float16, np.float32,
                                np.float64, np.bool_, np.complex64])


@st.composite
def frames(draw) -> np.ndarray:
    """Arrays of random shape (0 to 4 dimensions, 1x1 to very elongated), dtype and channel count."""
    ndim = draw(st.integers(0, 4))
    if ndim in (2, 3):
        height, width = draw(frame_shapes)
        shape = (height, width) if ndim == 2 else (height, width, draw(st.integers(0, 6)))
    else:
        shape = tuple(draw(st.lists(st.integers(0, 8), min_size=ndim, max_size=ndim)))
    dtype = draw(frame_dtypes)
    elements = None
    if np.issubdtype(dtype, np.floating):
        elements = floats(allow_nan=True, allow_infinity=True, width=16 if dtype == np.float16 else 32)
    elif np.issubdtype(dtype, np.complexfloating):
        elements = st.complex_numbers(allow_nan=True, allow_infinity=True, allow_subnormal=False, width=64)
    return draw(hnp.arrays(dtype, shape, elements=elements))


@given(frame=frames(), as_tensor=st.booleans())
def test_any_array_is_a_bgr_frame_or_an_error(frame: np.ndarray, as_tensor: bool) -> None:
    image = frame
    if as_tensor and frame.dtype not in (np.uint16, np.complex64):
        image = torch.from_numpy(np.ascontiguousarray(frame))
    try:
        out = to_bgr(image)
    except SiamtrackError:
        return
    assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3 and out.flags.c_contiguous
    assert out.shape[:2] == frame.shape[:2]


@given(value=st.one_of(st.none(), st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=3),
                       st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)))
def test_non_frames_are_an_error_that_lists_what_works(value) -> None:
    with pytest.raises(SiamtrackError, match="numpy array"):
        to_bgr(value)


# ----------------------------------------------------------------------------- configs
leaf_values = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=8),
                        st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=4), numbers, max_size=2))
FIELDS = {name: list(getattr(Config(), name).__dataclass_fields__) for name in ("model", "tracker", "data", "train")}


@st.composite
def config_dicts(draw) -> dict:
    """Nested dicts over the real sections and keys, some unknown ones, and values of any type."""
    values: dict = {}
    for section in draw(st.lists(st.sampled_from([*FIELDS, "extra"]), max_size=4, unique=True)):
        keys = FIELDS.get(section, []) + ["bogus_key"]
        values[section] = draw(st.dictionaries(st.sampled_from(keys), leaf_values, max_size=4))
    if draw(st.booleans()):
        values = draw(st.sampled_from([values, [values], "text", 3]))
    return values


@given(values=config_dicts())
@example(values={"tracker": {"exemplar_size": 0}})
@example(values={"tracker": {"instance_size": -255}})
@example(values={"tracker": {"scale_step": 0}})
@example(values={"tracker": {"response_up": 0}})
@example(values={"tracker": {"window_influence": math.nan}})
@example(values={"data": {"mix": {"video": math.inf}}})
def test_config_dicts_are_a_config_or_an_error_naming_the_key(values) -> None:
    try:
        cfg = config_from_dict(values)
    except SiamtrackError as exc:
        assert str(exc).startswith("config")
        return
    cfg.validate()


# ----------------------------------------------------------------------------- tracking
@st.composite
def tracker_configs(draw) -> TrackerConfig:
    """Tracker settings inside (and at the edges of) the ranges the config allows."""
    exemplar = draw(st.integers(8, 96))
    return TrackerConfig(
        exemplar_size=exemplar, instance_size=exemplar + draw(st.integers(1, 96)),
        context=draw(floats(0, 2)), scale_num=draw(st.integers(1, 5)),
        scale_step=draw(floats(0.5, 2)), scale_penalty=draw(floats(0.01, 1)),
        scale_lr=draw(floats(0, 1)), response_up=draw(st.integers(1, 8)),
        window_influence=draw(floats(0, 1)), min_scale=draw(floats(0.01, 1)),
        max_scale=draw(floats(1, 10)))


@st.composite
def sequences(draw) -> tuple[list[np.ndarray], tuple[float, ...]]:
    """A textured patch moving along random waypoints, leaving the frame and coming back; frames in
    random formats (gray, BGRA, 16-bit, float), the first box anywhere near the patch."""
    height, width = draw(st.tuples(st.integers(8, 96), st.integers(8, 160)))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    background = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    patch = rng.integers(0, 255, (max(height // 3, 2), max(width // 3, 2), 3), dtype=np.uint8)
    waypoints = draw(st.lists(st.tuples(floats(-1.5, 2.5), floats(-1.5, 2.5)), min_size=2, max_size=5))
    count = draw(st.integers(2, 8))
    kinds = draw(st.lists(st.sampled_from(["bgr", "gray", "bgra", "u16", "float"]), min_size=count, max_size=count))
    result = []
    for index, kind in enumerate(kinds):
        t = index / max(count - 1, 1) * (len(waypoints) - 1)
        a, b = waypoints[int(t)], waypoints[min(int(t) + 1, len(waypoints) - 1)]
        fx, fy = (a[0] + (b[0] - a[0]) * (t % 1)) * width, (a[1] + (b[1] - a[1]) * (t % 1)) * height
        frame = background.copy()
        x0, y0 = int(fx), int(fy)
        x1, y1 = max(x0, 0), max(y0, 0)
        x2, y2 = min(x0 + patch.shape[1], width), min(y0 + patch.shape[0], height)
        if x2 > x1 and y2 > y1:
            frame[y1:y2, x1:x2] = patch[y1 - y0:y2 - y0, x1 - x0:x2 - x0]
        result.append({"bgr": frame, "gray": cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY),
                       "bgra": cv2.cvtColor(frame, cv2.COLOR_BGR2BGRA), "u16": frame.astype(np.uint16) * 16,
                       "float": frame.astype(np.float32) / 255}[kind])
    box = draw(st.tuples(floats(-width, 2 * width), floats(-height, 2 * height),
                         floats(0, 3 * width), floats(0, 3 * height)))
    return result, box


@given(sequence=sequences(), cfg=tracker_configs(), targets=st.integers(1, 3))
def test_tracking_random_sequences_gives_finite_boxes_or_an_error(sequence, cfg, targets) -> None:
    frames_, box = sequence
    tracker = build_tracker(PIXELS, cfg)
    try:
        tracker.init(frames_[0], box if targets == 1 else [box] * targets)
    except SiamtrackError:
        return
    for frame in frames_[1:]:
        boxes = np.asarray(tracker.update(frame))
        assert finite_box(boxes), boxes
        scores = np.atleast_1d(tracker.score)
        assert np.all(np.isfinite(scores)) and np.all((scores >= 0) & (scores <= 1))


# ----------------------------------------------------------------------------- command line
@pytest.fixture(scope="module")
def cli_inputs(tmp_path_factory) -> dict[str, Path]:
    """Sources, configs and weights, good and bad, for the command-line fuzzing."""
    tmp = tmp_path_factory.mktemp("cli_fuzz")
    rng = np.random.default_rng(0)
    folder = tmp / "frames"
    folder.mkdir()
    for index in range(4):
        cv2.imwrite(str(folder / f"{index}.png"), rng.integers(0, 255, (60, 80, 3), dtype=np.uint8))
    mixed = tmp / "mixed_sizes"
    mixed.mkdir()
    cv2.imwrite(str(mixed / "0.png"), rng.integers(0, 255, (60, 80, 3), dtype=np.uint8))
    cv2.imwrite(str(mixed / "1.png"), rng.integers(0, 255, (30, 40, 3), dtype=np.uint8))
    corrupt = tmp / "corrupt_frames"
    corrupt.mkdir()
    cv2.imwrite(str(corrupt / "0.png"), rng.integers(0, 255, (60, 80, 3), dtype=np.uint8))
    (corrupt / "1.png").write_bytes(b"")
    (tmp / "empty").mkdir()
    (tmp / "text.mp4").write_text("not a video")
    (tmp / "clip.mp4").write_bytes(b"")
    weights = tmp / "pixels.pth"
    save_atomic({"model": PIXELS.state_dict(), "config": Config(model=ModelConfig(backbone="pixels")).to_dict()}, weights)
    save_atomic({"model": "not a state dict"}, tmp / "string_model.pth")
    (tmp / "random.pth").write_bytes(rng.bytes(300))
    (tmp / "empty.pth").write_bytes(b"")
    (tmp / "truncated.pth").write_bytes(weights.read_bytes()[:50])
    (tmp / "good.yaml").write_text(yaml.safe_dump({"model": {"backbone": "pixels"}}))
    (tmp / "zero.yaml").write_text(yaml.safe_dump({"model": {"backbone": "pixels"}, "tracker": {"exemplar_size": 0}}))
    (tmp / "nan.yaml").write_text("model: {backbone: pixels}\ntracker: {window_influence: .nan}\n")
    (tmp / "binary.yaml").write_bytes(b"\x80\x81\xff\x00" * 20)
    (tmp / "list.yaml").write_text("- 1\n- 2\n")
    return {p.name: p for p in tmp.iterdir()} | {"tmp": tmp}


def track_cli(argv: list[str]) -> tuple[int, str]:
    """``siamtrack track`` in this process: exit code and stderr."""
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        code = cli_main(["track", *argv])
    return code, stderr.getvalue()


GOOD = {"source": "frames", "box": "10,10,20,20", "weights": "pixels.pth", "config": None,
        "out_boxes": "out/boxes.txt", "out_video": "out/video.avi", "max_frames": None}
BAD = {
    "source": st.sampled_from(["mixed_sizes", "corrupt_frames", "empty", "text.mp4", "clip.mp4", "missing.mp4",
                               "frames/*.jpg", "frames/*.png"]),
    "box": st.one_of(st.sampled_from(["0,0,1e200,1e200", "0,0,1e154,1e154", "nan,1,2,3", "1,2,3", "500,10,20,20",
                                      "10,10,0,5", "a,b,c,d", "1e-300,1,1,1", "-5,-5,6,6"]),
                     st.lists(numbers, min_size=4, max_size=4).map(lambda v: ",".join(map(repr, v)))),
    "weights": st.sampled_from(["string_model.pth", "random.pth", "empty.pth", "truncated.pth", "missing.pth",
                                "good.yaml"]),
    "config": st.sampled_from(["good.yaml", "zero.yaml", "nan.yaml", "binary.yaml", "list.yaml", "pixels.pth",
                               "empty"]),
    "out_boxes": st.sampled_from([None, "empty", "/proc/x.txt", "text.mp4/sub/b.txt", "out/video.avi"]),
    "out_video": st.sampled_from([None, "out/video.mkv", "/proc/x.mp4", "clip.mp4/sub/v.mp4", "text.mp4"]),
    "max_frames": st.sampled_from([1, 2, 10**9]),
}


@given(changes=st.lists(st.sampled_from(sorted(BAD)), max_size=2, unique=True).flatmap(
    lambda names: st.fixed_dictionaries({name: BAD[name] for name in names})))
def test_the_cli_exits_0_or_2_with_one_error_line(cli_inputs, changes) -> None:
    """A good command line with up to two of its arguments replaced by bad ones."""
    tmp = cli_inputs["tmp"]
    args = {**GOOD, **changes}

    def where(name: str) -> str:
        return name if name.startswith("/") else str(tmp / name)

    argv = [where(args["source"]), f"--box={args['box']}", "--weights", where(args["weights"]), "--device", "cpu"]
    for option in ("config", "out_boxes", "out_video", "max_frames"):
        if args[option] is not None:
            value = args[option]
            argv += [f"--{option.replace('_', '-')}", where(value) if isinstance(value, str) else str(value)]
    code, stderr = track_cli(argv)
    event(f"exit code {code}")
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert code in (0, 2), (argv, stderr)
    assert "Traceback" not in stderr
    assert len(errors) == (1 if code == 2 else 0), (argv, stderr)


# ----------------------------------------------------------------------------- file names
# Any bytes a Linux file name may hold (no "/" or NUL), UTF-8 or not; prefixed so that none is
# hidden, "." or "..", or a macOS "._" file.
file_names = st.binary(min_size=1, max_size=40).filter(lambda name: b"/" not in name and b"\0" not in name)


def write_image_file(path: bytes, image: np.ndarray) -> None:
    ok, data = cv2.imencode(".png", image)
    assert ok
    with open(path, "wb") as handle:
        handle.write(data.tobytes())


@settings(max_examples=15, derandomize=True)
@given(folder=file_names, frame_names=st.lists(file_names, min_size=1, max_size=3, unique=True), output=file_names)
@example(folder=b"l\xe9gumes", frame_names=[b"\xe9t\xe9_1", b"\xff\xfe"], output=b"\xe9")
def test_any_file_name_is_read_and_written(cli_inputs, folder, frame_names, output) -> None:
    """Frames, the folder and the outputs named with arbitrary bytes: the run succeeds."""
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        root = os.fsencode(tmp)
        os.mkdir(root + b"/d" + folder)
        for name in frame_names:
            write_image_file(root + b"/d" + folder + b"/f" + name + b".png",
                             rng.integers(0, 255, (40, 50, 3), dtype=np.uint8))
        boxes, video = root + b"/o" + output + b".txt", root + b"/o" + output + b".avi"
        code, stderr = track_cli([os.fsdecode(root + b"/d" + folder), "--box", "10,10,20,20", "--weights",
                                  str(cli_inputs["pixels.pth"]), "--device", "cpu", "--out-boxes", os.fsdecode(boxes),
                                  "--out-video", os.fsdecode(video)])
        assert code == 0, stderr
        with open(boxes, "rb") as handle:
            assert len(handle.read().splitlines()) == len(frame_names)
        assert os.path.getsize(video) > 0


# ----------------------------------------------------------------------------- frame sequences
@st.composite
def changing_sequences(draw) -> list[np.ndarray]:
    """Frames of one scene in changing dtypes (uint8, 10/12/16-bit, float [0, 1] or [0, 255]), some
    with a hot pixel or darker, some of another size."""
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    height, width = draw(st.tuples(st.integers(2, 24), st.integers(2, 24)))
    scene = rng.integers(0, 256, (height, width), dtype=np.uint16)
    frames = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["u8", "u10", "u12", "u16", "f1", "f255"]))
        values = scene.copy()
        if draw(st.booleans()):
            values //= 4  # a darker frame
        if draw(st.integers(0, 4)) == 0:
            values = rng.integers(0, 256, (height + 1, width), dtype=np.uint16)  # another size
        frame = {"u8": lambda v: v.astype(np.uint8), "u10": lambda v: v << 2, "u12": lambda v: v << 4,
                 "u16": lambda v: v << 8, "f1": lambda v: v.astype(np.float32) / 255,
                 "f255": lambda v: v.astype(np.float64)}[kind](values)
        if draw(st.booleans()):
            frame[0, 0] = {np.uint8: 255, np.uint16: 65535, np.float32: 7.0, np.float64: 1e4}[frame.dtype.type]
        frames.append(frame)
    return frames


@settings(max_examples=40, derandomize=True)
@given(frames=changing_sequences())
def test_changing_frames_keep_one_scale_and_one_size(frames) -> None:
    """A source's frames come out the same size or the run stops at the first that is not; pixels of
    equal value and dtype come out equal in every frame (no frame-by-frame brightness)."""
    converted = []
    with pytest.raises(SiamtrackError, match="must share one size") if any(
            f.shape != frames[0].shape for f in frames) else contextlib.nullcontext():
        for frame in FrameList(frames):
            converted.append(frame)
    assert all(out.shape == frames[0].shape + (3,) and out.dtype == np.uint8 for out in converted)
    first_of = {}
    for raw, out in zip(frames, converted):
        earlier_raw, earlier_out = first_of.setdefault(raw.dtype, (raw, out))
        same = raw == earlier_raw
        np.testing.assert_array_equal(out[same], earlier_out[same])


# ----------------------------------------------------------------------------- concurrent runs
@settings(max_examples=10, derandomize=True)
@given(first=st.sampled_from(["out_boxes", "out_video"]), second=st.sampled_from(["--out-boxes", "--out-video"]),
       extension=st.sampled_from([".avi", ".mp4"]))
def test_a_second_run_on_a_held_output_is_refused_and_the_first_keeps_it(cli_inputs, first, second,
                                                                         extension) -> None:
    """Whichever output of a running run a second run names, in whichever role: the second is one
    error line, the file is not touched; once the first ends, the second runs."""
    tmp = cli_inputs["tmp"]
    shared = tmp / f"shared{extension}"
    shared.write_bytes(b"what the first run holds")
    argv = [str(tmp / "frames"), "--box", "10,10,20,20", "--weights", str(cli_inputs["pixels.pth"]), "--device", "cpu",
            second, str(shared)]
    with RunOutputs(**{first: shared}):
        code, stderr = track_cli(argv)
        assert code == 2 and stderr.count("\n") == 1 and "is being written by another run" in stderr, stderr
        assert shared.read_bytes() == b"what the first run holds"
    code, stderr = track_cli(argv)
    assert code == 0, stderr
