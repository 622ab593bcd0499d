#!/usr/bin/env bash
# A native service that fails while loading: prints some lines, then exits with code 3.
for i in 1 2 3 4 5 6 7 8; do
  echo "dying-llm: step $i"
done
echo "dying-llm: CUDA out of memory (pretend)" >&2
echo "dying-llm: giving up"
exit 3
