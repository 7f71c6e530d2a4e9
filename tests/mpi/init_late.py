"""init_process_group initialises MPI itself when mpi4py was told not to (mpi4py.rc.initialize =
False, as programs that initialise MPI on their own terms do), and the process exits cleanly
(MPI finalized at exit).

    mpiexec -n K python tests/mpi/init_late.py
"""
import mpi4py

mpi4py.rc.initialize = False
from mpi4py import MPI  # noqa: E402

from harness import Checks, dist, tg  # noqa: E402

was_initialized = MPI.Is_initialized()
dist.init_process_group()
checks = Checks()
checks.true("MPI was not initialised before init_process_group", not was_initialized)
checks.true("init_process_group initialised it", MPI.Is_initialized())
t = tg.tensor([1.0])
dist.all_reduce(t)
checks.true("all_reduce works", t.item() == dist.get_world_size())
checks.report()
