"""train -> verify -> score -> eval through the command line, on loops the tests synthesise."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from rtloop_console import RTLOOP_CONSOLE  # noqa: E402

from export.clap_checkpoint import build_encoder, fingerprint  # noqa: E402
from export.embed import Embedder  # noqa: E402
from export.htsat import htsat_config  # noqa: E402
from rtloop.audio_io import find_audio_files, load_audio  # noqa: E402
from rtloop.bundle import load_bundle  # noqa: E402
from rtloop.cli import main  # noqa: E402
from rtloop.frontend import batch_inputs  # noqa: E402
from rtloop.library.worker import ScanWorker, Task  # noqa: E402
from rtloop.scorer import Scorer  # noqa: E402

pytestmark = pytest.mark.slow


def test_manifest_records_what_a_user_needs(trained_bundle: Path) -> None:
    m = load_bundle(trained_bundle).manifest
    assert m["encoder"]["pretrained"] is False and m["encoder"]["checkpoint"] is None
    assert m["encoder"]["config"]["name"] == "HTSAT-tiny" and m["encoder"]["config"]["fusion"] is True
    assert m["frontend"]["mel_scale"] == "htk" and m["frontend"]["sample_rate"] == 48000
    assert m["detector"]["name"] == "svdd-residual" and len(m["detector"]["centers"][0]) == m["detector"]["hidden"][-1]
    assert m["features"] == "latent" and m["bars_hint"] == 1
    assert m["training"]["n_files"] == 17 and m["training"]["n_fit"] + m["training"]["n_val"] == 12
    skipped = {Path(s["file"]).name: s["reason"] for s in m["training"]["skipped"]}
    assert set(skipped) == {"corrupt.wav", "empty.wav", "silent.wav", "nan.wav", "short.wav"}
    assert m["parity"]["embedding_cosine_min"] >= 0.9999 and m["parity"]["score_rel_max"] <= 1e-3
    assert set(m["files"]) == {"encoder.onnx", "detector.onnx", *(f"{a}.onnx" for a in m["aspects"])}
    assert m["parity"]["aspect_score_rel_max"] <= 1e-3


def test_retraining_with_another_detector_reuses_cached_embeddings_and_reports_skips(
    loop_sets: dict[str, Path], cache_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    argv = ["train", str(loop_sets["train"]), "-o", str(tmp_path / "pca.rtloop"), "--random-encoder"]
    assert main([*argv, "--detector", "pca", "--cache-dir", str(cache_dir)]) == 0
    out = capsys.readouterr()
    assert "17 files: 12 used (12 from cache), 5 skipped" in out.out
    assert "RANDOMLY INITIALISED" in out.err
    for name in ("corrupt.wav", "empty.wav", "silent.wav", "nan.wav", "short.wav"):
        assert f"skipped {loop_sets['train'] / 'bad' / name}:" in out.out
    assert load_bundle(tmp_path / "pca.rtloop").manifest["detector"]["name"] == "pca"


def test_training_embeds_with_the_graph_the_bundle_ships(
    trained_bundle: Path, loop_sets: dict[str, Path], cache_dir: Path
) -> None:
    """The detector is fitted on what the live scorer computes, bit for bit: training embedded its loops
    with the fp32 graph it ships, in onnxruntime, one loop per run as the live scorer runs them (in its
    worker processes), and cached them under that graph's hash."""
    bundle = load_bundle(trained_bundle)
    scorer = Scorer(bundle, providers=["CPUExecutionProvider"])
    key = f"fp32:{bundle.manifest['files']['encoder.onnx']}:one loop per run"
    paths = list(find_audio_files(loop_sets["train"]).files)
    cached = Embedder(scorer.embed, bundle.frontend, key, cache_dir).embed_files(paths)
    assert cached.cached == len(cached.paths) == 12
    waves = [load_audio(p, bundle.frontend.sample_rate) for p in cached.paths]
    live_latent = np.concatenate([scorer.embed([wave])[0] for wave in waves])  # one loop a bar, live
    np.testing.assert_array_equal(cached.features("latent"), live_latent)


def test_verify_reports_providers_and_random_encoder(trained_bundle: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["verify", str(trained_bundle)]) == 0
    out = capsys.readouterr().out
    assert "OK" in out and "RANDOM (not pretrained)" in out and "CPUExecutionProvider" in out


def test_planted_deviations_score_above_normal_loops(
    trained_bundle: Path, loop_sets: dict[str, Path], capsys: pytest.CaptureFixture
) -> None:
    normal = list(find_audio_files(loop_sets["normal"]).files)
    anomalous = list(find_audio_files(loop_sets["anomalous"]).files)
    assert main(["score", str(trained_bundle), *map(str, normal + anomalous), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    scores = {Path(r["file"]).name: r for r in rows}
    normal_scores = [scores[p.name]["score"] for p in normal]
    anomalous_scores = [scores[p.name]["score"] for p in anomalous]
    assert min(anomalous_scores) > max(normal_scores)
    assert all(0.0 <= r["variation"] <= 1.0 for r in rows)
    assert all(scores[p.name]["flagged"] for p in anomalous)


def test_score_reports_a_bad_file_and_goes_on(
    trained_bundle: Path,
    loop_sets: dict[str, Path],
    bad_files: tuple[Path, dict[str, str]],
    capsys: pytest.CaptureFixture,
) -> None:
    good = find_audio_files(loop_sets["normal"]).files[0]
    assert main(["score", str(trained_bundle), str(bad_files[0] / "nan.wav"), str(good)]) == 1
    out = capsys.readouterr()
    assert "nan.wav: audio contains NaN" in out.err and good.name in out.out


def test_files_are_gridded_as_the_training_loops_were_unless_told_otherwise(
    trained_bundle: Path, loop_sets: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """A bundle trained with --bpm 100 --beats-per-bar 3 (a waltz): score, eval and scan gridded its loops at
    an estimated tempo in 4/4, and flagged held-out normal loops at 1.0, before."""
    assert load_bundle(trained_bundle).manifest["grid"] == {"bpm": None, "beats_per_bar": 4}
    waltz = tmp_path / "waltz.rtloop"
    shutil.copytree(trained_bundle, waltz)
    manifest = json.loads((waltz / "manifest.json").read_text())
    manifest["grid"] = {"bpm": 100.0, "beats_per_bar": 3}
    (waltz / "manifest.json").write_text(json.dumps(manifest))
    loop = str(find_audio_files(loop_sets["normal"]).files[0])

    def scored(*argv: str) -> dict:
        assert main(["score", "--json", *argv]) == 0
        return json.loads(capsys.readouterr().out)

    told = scored(str(trained_bundle), loop, "--bpm", "100", "--beats-per-bar", "3", "--bars-hint", "1")
    assert scored(str(waltz), loop) == told, "the bundle's training grid is the default"
    assert scored(str(trained_bundle), loop) != told, "and it matters"
    assert scored(str(waltz), loop, "--beats-per-bar", "4", "--bpm", "120") != told, "options still win"
    assert main(["score", str(trained_bundle), loop, "--bars-hint", "64"]) == 0  # 64 bars of 4 beats in 2 s: none
    assert f"{loop}: --bars-hint 64 gives no tempo in 20..400 bpm: its grid is estimated" in capsys.readouterr().err
    result = ScanWorker(str(waltz)).run([Task(loop, None)])[0]
    assert {name: round(v, 5) for name, v, _ in result.aspects} == {k: round(v, 5) for k, v in told["aspects"].items()}


def test_score_prints_a_file_name_that_is_not_utf8_as_its_bytes(
    trained_bundle: Path, loop_sets: dict[str, Path], tmp_path: Path
) -> None:
    """The real console with the stdout Python gives under a UTF-8 locale such as en_US.UTF-8 (strict; this
    machine may have only C.UTF-8, where Python escapes): a UnicodeEncodeError before."""
    odd = tmp_path / os.fsdecode(b"caf\xe9.wav")
    shutil.copyfile(find_audio_files(loop_sets["normal"]).files[0], odd)
    env = os.environ | {"PYTHONIOENCODING": "utf-8:strict"}
    done = subprocess.run([*RTLOOP_CONSOLE, "score", str(trained_bundle), str(odd)], capture_output=True, env=env)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert done.stdout.startswith(os.fsencode(odd) + b": score "), done.stdout


def test_onnx_encoder_matches_pytorch_at_batch_1_3_and_8(trained_bundle: Path, loop_sets: dict[str, Path]) -> None:
    bundle = load_bundle(trained_bundle)
    model = build_encoder(htsat_config("HTSAT-tiny", fusion=True), None, seed=0)
    assert fingerprint(model) == bundle.manifest["encoder"]["fingerprint"]
    waves = [load_audio(p, 48000) for p in find_audio_files(loop_sets["train"] / "bass").files[:7]]
    waves.append(np.tile(waves[0], 12))  # one loop over 10 s takes the fused path
    mel, longer = batch_inputs(waves, bundle.frontend)
    assert longer.tolist() == [False] * 7 + [True]
    session = ort.InferenceSession(str(bundle.encoder_path), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        expected = model(torch.from_numpy(mel), torch.from_numpy(longer))[1].numpy()
    for batch in (1, 3, 8):
        for start in range(0, 8, batch):
            sl = slice(start, min(start + batch, 8))
            (got,) = session.run(["embedding"], {"mel": mel[sl], "longer": longer[sl]})
            np.testing.assert_allclose(got, expected[sl], atol=1e-4)


def test_eval_compares_detectors_and_plots(
    trained_bundle: Path, loop_sets: dict[str, Path], tmp_path: Path, cache_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    iforest = tmp_path / "if.rtloop"
    argv = ["train", str(loop_sets["train"]), "-o", str(iforest), "--random-encoder", "--detector", "iforest"]
    assert main([*argv, "--cache-dir", str(cache_dir)]) == 0
    capsys.readouterr()
    plot = tmp_path / "scores.png"
    argv = ["eval", str(trained_bundle), str(iforest), "--normal", str(loop_sets["normal"])]
    assert main([*argv, "--anomalous", str(loop_sets["anomalous"]), "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "(svdd-residual)" in out and "(iforest)" in out and "ROC-AUC" in out
    svdd_line = next(line for line in out.splitlines() if "(svdd-residual)" in line)
    assert float(svdd_line.split()[2]) == pytest.approx(1.0)  # gross deviations: perfectly separated
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _clap_checkpoint(path: Path, fusion: bool) -> Path:
    """A checkpoint in LAION-CLAP's layout: DDP prefixes, text branch, front-end and head keys."""
    model = build_encoder(htsat_config("HTSAT-tiny", fusion=fusion), None, seed=7)
    state = {}
    for key, value in model.state_dict().items():
        name = key if key.startswith("audio_projection.") else f"audio_branch.{key}"
        state[f"module.{name}"] = value
    state["module.audio_branch.spectrogram_extractor.stft.conv_real.weight"] = torch.zeros(513, 1, 1024)
    state["module.audio_branch.tscam_conv.weight"] = torch.zeros(527, 768, 2, 3)
    state["module.text_branch.embeddings.word_embeddings.weight"] = torch.zeros(10, 4)
    torch.save({"epoch": 15, "state_dict": state}, path)
    return path


def test_training_from_a_local_clap_checkpoint(loop_sets: dict[str, Path], tmp_path: Path, cache_dir: Path) -> None:
    ckpt = _clap_checkpoint(tmp_path / "630k-audioset-fusion-best.pt", fusion=True)
    out = tmp_path / "ckpt.rtloop"
    argv = ["train", str(loop_sets["train"]), "-o", str(out), "--clap-ckpt", str(ckpt), "--detector", "pca"]
    assert main([*argv, "--cache-dir", str(cache_dir)]) == 0
    m = load_bundle(out).manifest
    assert m["encoder"]["pretrained"] is True and m["encoder"]["checkpoint"]["name"] == ckpt.name
    assert m["encoder"]["checkpoint"]["sha256"] == hashlib.sha256(ckpt.read_bytes()).hexdigest()
    expected = build_encoder(htsat_config("HTSAT-tiny", fusion=True), None, seed=7)
    assert m["encoder"]["fingerprint"] == fingerprint(expected)


def test_user_mistakes_give_one_clear_line(
    loop_sets: dict[str, Path], tmp_path: Path, cache_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    ckpt = _clap_checkpoint(tmp_path / "nofusion.pt", fusion=False)
    base = ["train", str(loop_sets["train"]), "-o", str(tmp_path / "x.rtloop"), "--cache-dir", str(cache_dir)]
    assert main([*base, "--clap-ckpt", str(ckpt)]) == 2
    assert "no trained fusion layers; pass --no-fusion" in capsys.readouterr().err
    assert main([*base, "--checkpoint-url", "http://127.0.0.1:1/resolve/main"]) == 2
    assert "--random-encoder" in capsys.readouterr().err
    few = tmp_path / "few"
    few.mkdir()
    for p in find_audio_files(loop_sets["normal"]).files[:3]:
        (few / p.name).write_bytes(p.read_bytes())
    assert (
        main(["train", str(few), "-o", str(tmp_path / "y.rtloop"), "--random-encoder", "--cache-dir", str(cache_dir)])
        == 2
    )
    assert "at least 4 are needed" in capsys.readouterr().err
    assert not (tmp_path / "x.rtloop").exists() and not (tmp_path / "y.rtloop").exists()


def test_an_output_that_is_not_a_bundle_is_never_replaced(
    loop_sets: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    music = tmp_path / "Music"  # -o with a folder of the user's, or a file: refused before any work
    music.mkdir()
    (music / "song.wav").write_bytes(b"precious")
    notes = tmp_path / "notes.txt"
    notes.write_text("precious")
    app = tmp_path / "app"  # a folder with a manifest.json of its own
    app.mkdir()
    (app / "manifest.json").write_text("{}")
    link = tmp_path / "link.rtloop"
    link.symlink_to(music)
    for output in (music, notes, app, link):
        assert main(["train", str(loop_sets["train"]), "-o", str(output), "--random-encoder"]) == 2
        assert f"{output} exists and is not a bundle" in capsys.readouterr().err
    assert (music / "song.wav").read_bytes() == b"precious" and notes.read_text() == "precious"
    assert (app / "manifest.json").read_text() == "{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Music", "app", "link.rtloop", "notes.txt"]  # no work folder


def test_a_file_browsers_clutter_is_not_taken_for_the_users_files(tmp_path: Path) -> None:
    from export.train import _not_a_bundle, _not_the_bundles

    (tmp_path / "manifest.json").write_text(json.dumps({"files": {"encoder.onnx": "0" * 64}}))
    for name in ("encoder.onnx", ".DS_Store", "._encoder.onnx", "Thumbs.db", "NOTES.txt"):
        (tmp_path / name).write_bytes(b"")
    assert _not_the_bundles(tmp_path) == ["NOTES.txt"]
    browsed = tmp_path / "new.rtloop"  # a new output folder a file browser has looked into
    browsed.mkdir()
    (browsed / ".DS_Store").write_bytes(b"")
    assert not _not_a_bundle(browsed)


def test_a_bundle_holding_files_of_the_users_is_never_replaced(
    trained_bundle: Path, loop_sets: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Loops kept inside the bundle they trained, and notes: a retrain over it deleted them (14 files, then 7)."""
    kept = tmp_path / "keep.rtloop"
    shutil.copytree(trained_bundle, kept)
    shutil.copytree(loop_sets["normal"], kept / "loops")
    (kept / "NOTES.txt").write_text("precious")
    before = sorted(p.relative_to(kept) for p in kept.rglob("*"))
    assert main(["train", str(kept / "loops"), "-o", str(kept), "--random-encoder"]) == 2
    err = capsys.readouterr().err
    assert f"{kept} holds files that are not the bundle's (NOTES.txt, loops)" in err, err
    assert sorted(p.relative_to(kept) for p in kept.rglob("*")) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.rtloop"], "no work folder left"
