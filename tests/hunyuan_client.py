#!/usr/bin/env python3
"""hunyuan_client.py - a client of the Hunyuan3D-2 API server's contract,
written as such clients are (Python standard library only), for
tests/test_compat.sh to point at ORFEAS:

  hunyuan_client.py send URL IMAGE OUT.glb      POST /send, poll /status/<uid>
                                                until completed, decode the
                                                base64 GLB into OUT.glb
  hunyuan_client.py generate URL IMAGE OUT.glb  POST /generate, the GLB itself
  hunyuan_client.py bad URL IMAGE -             a value out of the 2.1 range:
                                                expects 422
  A sixth argument sets octree_resolution (128 by default).

Exits 0 when the answer is what that contract promises (a GLB: its magic,
version 2 and length checked), else 1 with the reason on stderr.  Every
request has a timeout; polling stops after 300 s.
"""
import base64
import json
import struct
import sys
import time
import urllib.error
import urllib.request


def post(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def get(url):
    with urllib.request.urlopen(url, timeout=120) as resp:
        return resp.status, resp.read()


def check_glb(data):
    if len(data) < 20 or data[:4] != b"glTF":
        sys.exit("not a GLB (%d bytes)" % len(data))
    version, length = struct.unpack("<II", data[4:12])
    if version != 2 or length != len(data):
        sys.exit("GLB header: version %d, length %d of %d bytes" % (version, length, len(data)))


def main():
    mode, base, image, out = sys.argv[1:5]
    octree = int(sys.argv[5]) if len(sys.argv) > 5 else 128
    with open(image, "rb") as f:
        b64 = base64.b64encode(f.read()).decode()
    body = {"image": b64, "seed": 1234, "octree_resolution": octree, "num_inference_steps": 5,
            "guidance_scale": 5.0, "texture": False, "face_count": 20000, "type": "glb"}
    if mode == "bad":
        body["num_inference_steps"] = 50
        status, data = post(base + "/send", body)
        if status != 422:
            sys.exit("steps out of range: HTTP %d %s" % (status, data[:200]))
        return
    if mode == "generate":
        status, data = post(base + "/generate", body)
        if status != 200:
            sys.exit("/generate: HTTP %d %s" % (status, data[:200]))
    else:
        status, data = post(base + "/send", body)
        if status != 200:
            sys.exit("/send: HTTP %d %s" % (status, data[:200]))
        uid = json.loads(data)["uid"]
        t0 = time.monotonic()
        while True:
            status, data = get(base + "/status/" + uid)
            answer = json.loads(data)
            if answer["status"] == "completed":
                data = base64.b64decode(answer["model_base64"])
                break
            if answer["status"] not in ("processing", "texturing"):
                sys.exit("/status: %s" % json.dumps(answer)[:300])
            if time.monotonic() - t0 > 300:
                sys.exit("/status: still %s after 300 s" % answer["status"])
            time.sleep(0.2)
    check_glb(data)
    with open(out, "wb") as f:
        f.write(data)


if __name__ == "__main__":
    main()
