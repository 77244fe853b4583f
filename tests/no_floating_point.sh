#!/bin/sh
# Money is integer euro cents: no floating-point type may appear on a money path (the ledger library and the
# projections), nor in the workload that writes the histories' costs. Prints the offending lines and fails if one
# does. Usage: no_floating_point.sh SOURCE_DIR
cd "$1" || exit 2
if grep -nwE 'float|double' ledger/src/*.cc ledger/src/*.h ledger/include/di/ledger/*.h \
     projections/src/*.cc projections/include/di/projections/*.h \
     workload/src/*.cc workload/src/*.h workload/include/di/workload/*.h; then
  echo "floating point on a money path (above)" >&2
  exit 1
fi
echo "no floating point in ledger/, projections/ and workload/"
