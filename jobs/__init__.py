"""Identity checks as jobs on a distributed queue, for several nodes.

A node that runs with SIGNROOM_IDENTITY_JOBS=redis does not read documents,
match faces, judge liveness or validate PDFs itself: it stores the inputs in the
blob store, enqueues a job on arq (Redis), and waits for the result, which a
`signroom worker` on any machine that reaches Redis, the blob store and the
database computes in its own bounded worker processes and stores in the
database. arq acknowledges a job only once its function returns, after the
result is stored; a worker killed mid-job leaves the job to run again on
another, and the result table takes one result per job id.
"""
