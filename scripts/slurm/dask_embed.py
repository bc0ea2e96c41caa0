"""Embed a HATS catalogue on a Slurm cluster with Dask (dask-jobqueue) and LSDB.

    build/hats-venv/bin/pip install dask-jobqueue          # once
    PYTHONPATH=build build/hats-venv/bin/python scripts/slurm/dask_embed.py \
        --data mmu_hsc_pdr3_dud_22.5 --model galaxy-cnn-ssl --out hsc_emb.hats --jobs 8

Each Slurm job is one Dask worker process per core group; a worker builds the
model once and embeds partition after partition (astrofm.hats.embed). A worker
that dies (preemption, node failure) has its partitions redone by the others;
the catalogue appears at --out only when complete. The catalogue must be on a
file system every node sees. docs/scaling.md has the measured rate per worker.
"""
import argparse
import os

import astrofm.hats


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="HATS catalogue (or collection) on a shared file system")
    p.add_argument("--model", default="galaxy-cnn-ssl")
    p.add_argument("--out", required=True)
    p.add_argument("--jobs", type=int, default=4, help="Slurm jobs (each one worker node share)")
    p.add_argument("--cores", type=int, default=8, help="cores per job")
    p.add_argument("--workers-per-job", type=int, default=4, help="worker processes per job (one model each)")
    p.add_argument("--memory", default="32GB")
    p.add_argument("--walltime", default="04:00:00")
    p.add_argument("--queue", default=None)
    a = p.parse_args()
    from dask.distributed import Client
    from dask_jobqueue import SLURMCluster

    threads = max(1, a.cores // a.workers_per_job)
    cluster = SLURMCluster(cores=a.cores, processes=a.workers_per_job, memory=a.memory, walltime=a.walltime, queue=a.queue,
                           job_script_prologue=[f"export OMP_NUM_THREADS={threads} OMP_WAIT_POLICY=PASSIVE",
                                                f"export PYTHONPATH={os.environ.get('PYTHONPATH', '')}"])
    cluster.scale(jobs=a.jobs)
    with Client(cluster):
        print(astrofm.hats.embed(a.data, a.model, a.out))


if __name__ == "__main__":
    main()
