import sys

from benchmarks.server_bench.run import main

sys.exit(main())
