"""The calls of relight's bucket in a region (relight.aws.bucket): made and configured on a
command's first change there (encrypted, versioned, TLS only, no public access, a lifecycle),
then its run lock and records written and removed. Every command that changes something in a
region makes them, and so does the stand-in's story: one set, joined into theirs."""

from __future__ import annotations

BUCKET: frozenset[str] = frozenset(
    {
        "s3.CreateBucket",
        "s3.DeleteObject",
        "s3.ListBuckets",
        "s3.PutBucketEncryption",
        "s3.PutBucketLifecycleConfiguration",
        "s3.PutBucketPolicy",
        "s3.PutBucketVersioning",
        "s3.PutObject",
        "s3.PutPublicAccessBlock",
    }
)
