#!/usr/bin/env python3
"""Writes the fixtures of tests/pipelines.rs (deterministic: rerun it and nothing changes).

    python3 tests/data/pipelines/make-fixtures.py

See README.md beside this file for what each fixture expects and why.
"""
import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
ACCOUNT = "123456789012"


def t(sec):
    """Event time `sec` seconds after 2024-03-01T00:00:00Z."""
    h, rem = divmod(sec, 3600)
    m, s = divmod(rem, 60)
    return f"2024-03-01T{h:02d}:{m:02d}:{s:02d}Z"


def assume_role(sec, instance, eid, role="app-role"):
    return {
        "eventVersion": "1.08",
        "eventTime": t(sec),
        "eventSource": "sts.amazonaws.com",
        "eventName": "AssumeRole",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "ec2.amazonaws.com",
        "userAgent": "ec2.amazonaws.com",
        "userIdentity": {"type": "AWSService", "invokedBy": "ec2.amazonaws.com"},
        "requestParameters": {
            "roleArn": f"arn:aws:iam::{ACCOUNT}:role/{role}",
            "roleSessionName": instance,
        },
        "responseElements": {
            "credentials": {"accessKeyId": "ASIA" + instance[2:18].upper(), "expiration": "Mar 1, 2024, 6:00:00 AM"}
        },
        "eventID": eid,
        "eventType": "AwsApiCall",
        "recipientAccountId": ACCOUNT,
    }


def call(sec, instance, ip, eid, name="GetObject", source="s3.amazonaws.com", role="app-role", params=None):
    return {
        "eventVersion": "1.08",
        "eventTime": t(sec),
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": ip,
        "userAgent": "aws-sdk-go/1.44.0 (go1.20; linux; amd64)",
        "userIdentity": {
            "type": "AssumedRole",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{instance}",
            "accountId": ACCOUNT,
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": f"arn:aws:iam::{ACCOUNT}:role/{role}"}},
        },
        "requestParameters": params if params is not None else {"bucketName": "app-data", "key": "report.csv"},
        "responseElements": None,
        "eventID": eid,
        "eventType": "AwsApiCall",
        "recipientAccountId": ACCOUNT,
    }


def admin(sec, name, params, eid, response=None):
    return {
        "eventVersion": "1.08",
        "eventTime": t(sec),
        "eventSource": "ec2.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "1.1.1.1",
        "userAgent": "console.amazonaws.com",
        "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::{ACCOUNT}:user/admin", "accountId": ACCOUNT},
        "requestParameters": params,
        "responseElements": response,
        "eventID": eid,
        "eventType": "AwsApiCall",
        "recipientAccountId": ACCOUNT,
    }


def eventbridge(record):
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.s3",
        "account": ACCOUNT,
        "time": record["eventTime"],
        "region": "us-east-1",
        "resources": [],
        "detail": record,
    }


def dump(name, lines, header=None):
    with open(os.path.join(HERE, name), "w", encoding="utf-8", newline="\n") as f:
        for line in lines:
            f.write(line if isinstance(line, str) else json.dumps(line, ensure_ascii=False, separators=(",", ":")))
            f.write("\n")


def attack():
    """A small stream with five alerts, built to trip each runner's record-losing defaults."""
    a, b = "i-0aaaaaaaaaaaaaaa1", "i-0bbbbbbbbbbbbbbb2"
    # ~40 KB of request parameters: longer than Fluent Bit's in_exec buf_size default (4096), its
    # in_stdin buffer_size default (16000) and Fluentd's 8 KiB parser hold-back.
    big_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": [f"s3:GetObject{i:04d}"], "Resource": [f"arn:aws:s3:::app-data/part-{i:04d}/*"]}
            for i in range(400)
        ],
    }
    lines = [
        assume_role(0, a, "ar-a"),
        assume_role(30, b, "ar-b"),
        call(60, a, "3.3.3.3", "a-lock"),
        call(90, b, "4.4.4.4", "b-lock"),
        call(120, a, "9.9.9.9", "a-thief-1"),
        # Escaped tab, newline, quote, backslash and non-ASCII text: each runner must pass them through.
        call(150, b, "4.4.4.4", "b-escapes", params={"bucketName": "app-data", "key": "tab\there\nnew\"line\\é✓.csv"}),
        admin(180, "AssociateAddress", {"instanceId": b, "allocationId": "eipalloc-unknown"}, "b-move"),
        call(300, b, "5.5.5.5", "b-new-address"),
        call(360, a, "9.9.9.9", "a-thief-big", name="PutBucketPolicy",
             params={"bucketName": "app-data", "bucketPolicy": big_policy}),
        eventbridge(call(420, a, "8.8.8.8", "a-thief-eventbridge")),
        {"Records": [call(450, b, "5.5.5.5", "b-in-records-body"), call(460, a, "7.7.7.7", "a-thief-records-body")]},
        call(480, b, "4.4.4.4", "b-still-home"),
        # The last record is an alert: a runner that holds back its last output until more input
        # arrives (Fluentd's JSON parser) or never flushes at shutdown loses exactly this one.
        call(540, a, "9.9.9.9", "a-thief-last"),
    ]
    dump("attack.ndjson", lines)


def scaleout():
    """Many instances interleaved; what one process alerts on must equal the union of N processes
    that each see only some Kafka partitions (records keyed by `credtrail key`).

    Everything happens within 10 minutes of event time: shorter than the 15-minute address-change
    window and the 6-hour TTL, so no window or session can expire however a consumer interleaves
    its partitions. Only records that `credtrail key` can tie to one instance are used for address
    changes (AssociateAddress with instanceId, one instance per StopInstances/StartInstances)."""
    rng = random.Random(20180801)
    instances = [f"i-0{n:016x}" for n in range(1, 49)]
    homes = {i: f"52.{n // 200}.{n % 200}.{10 + n % 7}" for n, i in enumerate(instances)}
    events = []  # (sec, seq, record)
    seq = 0

    def add(sec, rec):
        nonlocal seq
        events.append((sec, seq, rec))
        seq += 1

    for n, inst in enumerate(instances):
        role = f"role-{n % 5}"
        start = rng.randrange(0, 60)
        add(start, assume_role(start, inst, f"ar-{n}", role=role))
        kind = n % 6  # 0,1: quiet; 2: thief; 3: address change; 4: stop/start; 5: thief after a refresh
        sec = start + 5
        home = homes[inst]
        for k in range(rng.randrange(8, 14)):
            sec += rng.randrange(5, 40)
            add(sec, call(sec, inst, home, f"c-{n}-{k}", role=role))
        if kind == 2:
            for k in range(3):
                sec += rng.randrange(5, 30)
                add(sec, call(sec, inst, f"203.0.113.{n}", f"thief-{n}-{k}", role=role, name="ListBuckets"))
        elif kind == 3:
            sec += 10
            add(sec, admin(sec, "AssociateAddress", {"instanceId": inst, "allocationId": f"eipalloc-{n}"}, f"move-{n}"))
            for k in range(3):
                sec += rng.randrange(5, 30)
                add(sec, call(sec, inst, f"198.51.100.{n}", f"moved-{n}-{k}", role=role))
        elif kind == 4:
            sec += 10
            add(sec, admin(sec, "StopInstances", {"instancesSet": {"items": [{"instanceId": inst}]}}, f"stop-{n}"))
            sec += 30
            add(sec, admin(sec, "StartInstances", {"instancesSet": {"items": [{"instanceId": inst}]}}, f"start-{n}"))
            for k in range(3):
                sec += rng.randrange(5, 30)
                add(sec, call(sec, inst, f"192.0.2.{n}", f"restarted-{n}-{k}", role=role))
        elif kind == 5:
            sec += 10
            add(sec, assume_role(sec, inst, f"ar-refresh-{n}", role=role))
            for k in range(2):
                sec += rng.randrange(5, 30)
                add(sec, call(sec, inst, f"203.0.113.{100 + n}", f"thief-after-refresh-{n}-{k}", role=role))
    # People and services: no EC2 row, never an alert, keyed by their ARN.
    for k in range(30):
        sec = rng.randrange(0, 590)
        rec = call(sec, "alice", f"198.18.0.{k}", f"person-{k}", role="admin-role")
        add(sec, rec)
    events.sort(key=lambda e: (e[0], e[1]))
    assert events[-1][0] < 600, "keep the whole stream within 10 minutes of event time"
    lines = [rec for _, _, rec in events]
    # A few records in the other two shapes credtrail reads.
    lines[100] = eventbridge(lines[100])
    lines[200] = eventbridge(lines[200])
    dump("scaleout.ndjson", lines)


if __name__ == "__main__":
    attack()
    scaleout()
