"""Golden data for tests/train/tensorboard_events_test.cpp from the `tensorboard` package itself
(pip install tensorboard==2.21.0): what its EventAccumulator reads from event files written by
train/tensorboard_events.cpp, a run and a run resumed over its last step.

Regenerate:
    TERNARY_GOLDEN_OUT=/tmp/tb build/tests/ternary_tests --gtest_filter='TensorBoardEvents.TensorBoard*'
    cp /tmp/tb/events.out.tfevents.1764547200.* tests/golden/tensorboard/first.tfevents
    cp /tmp/tb/events.out.tfevents.1764547300.* tests/golden/tensorboard/resumed.tfevents
    python tests/golden/tensorboard_events.py /tmp/tb > tests/golden/tensorboard/read_by_tensorboard.json
(the test fails while the committed files are stale; it writes the new ones first).
"""
import json
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

accumulator = EventAccumulator(sys.argv[1], purge_orphaned_data=True)
accumulator.Reload()
seen = {tag: [[event.step, event.value] for event in accumulator.Scalars(tag)]
        for tag in ("train/loss", "val/loss") if tag in accumulator.Tags()["scalars"]}
seen.setdefault("val/loss", [])
seen["file_version"] = accumulator.file_version
print(json.dumps(seen, indent=1))
