#!/usr/bin/env python3
"""Reference for the declared-state test: Silero VAD run by ONNX Runtime over a real speech
clip in 512-sample chunks, with the state passed explicitly from each call to the next.

Writes tests/golden/silero_stream/audio.npy (the clip, f32 in [-1, 1), 16 kHz) and
probs_<model>.npy (speech probability per chunk) for each Silero export. Each call gets the
64 samples before the chunk followed by the chunk, as Silero's own Python wrapper feeds it.

Usage: python3 tests/golden/make_stream_refs.py   (needs onnxruntime and numpy)
"""
import os

import numpy as np

from make_refs import CACHE, HERE, fetch, read_wav16k, session

MODELS = ["silero_vad", "silero_vad_16k_op15", "silero_vad_half", "silero_vad_op18_ifless"]


def stream(model_path, audio):
    s = session(model_path)
    names = {i.name for i in s.get_inputs()}
    state = np.zeros((2, 1, 128), np.float32)
    context = np.zeros((1, 64), np.float32)
    probs = []
    for k in range(len(audio) // 512):
        x = np.concatenate([context, audio[None, k * 512:(k + 1) * 512]], axis=1)
        feed = {"input": x, "state": state}
        if "sr" in names:
            feed["sr"] = np.array(16000, np.int64)
        out, state = s.run(None, feed)
        probs.append(float(out[0, 0]))
        context = x[:, -64:]
    return np.array(probs, np.float32)


def main():
    fetch("silero-vad")
    audio = read_wav16k(os.path.join(fetch("speech"), "moonshine_voice", "assets", "clone-test.wav"))
    d = os.path.join(HERE, "silero_stream")
    os.makedirs(d, exist_ok=True)
    np.save(os.path.join(d, "audio.npy"), audio)
    for m in MODELS:
        p = stream(os.path.join(CACHE, "silero-vad", "silero_vad", "data", m + ".onnx"), audio)
        np.save(os.path.join(d, f"probs_{m}.npy"), p)
        print(f"{m}: {len(p)} chunks, speech (p > 0.5) in {int((p > 0.5).sum())}, "
              f"probabilities {np.round(p[:8], 3).tolist()} ...")


if __name__ == "__main__":
    main()
