#!/bin/bash
# stop.sh - stop the memori database container. The data stays in the named
# volume memori_persistent_data; start.sh brings it back.
. "$(dirname "$0")/lib.sh"

need_engine
compose down
say "stopped; the data stays in volume memori_persistent_data"
