import os, sys, threading, time, resource
os.environ["TF_CPP_MIN_LOG_LEVEL"]="2"
samples = []
def sampler():
    page = os.sysconf("SC_PAGE_SIZE")
    while True:
        with open("/proc/self/statm") as f:
            rss = int(f.read().split()[1]) * page
        samples.append((time.perf_counter(), rss)); time.sleep(0.05)
import tensorflow as tf
from absl import logging
t0 = time.perf_counter()
threading.Thread(target=sampler, daemon=True).start()
marks = []
orig = logging.info
def info(msg, *a, **k):
    marks.append((time.perf_counter(), msg % a if a else msg)); orig(msg, *a, **k)
logging.info = info
from export import pair
pair.logging.info = info
pair.export_pair(sys.argv[1], sys.argv[2], overwrite=True)
marks.append((time.perf_counter(), "end"))
# Max RSS between marks
prev = t0
for t, m in marks:
    seg = [r for (ts, r) in samples if prev <= ts <= t]
    print(f"{t - t0:7.1f}s  max RSS {max(seg)/1e6 if seg else 0:7.0f} MB  until: {m[:90]}")
    prev = t
print("peak", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024, "MB")
