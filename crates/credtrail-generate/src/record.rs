//! Record assembly: the head, ids and tail every CloudTrail record shares, and the caller
//! ([`Who`]) a record is written for.

use crate::text::{B32, B64, Draw, HEX, HEXU, push_rand, push_u64, put, uuid};
use credtrail_time::event_time_text;
use rand_chacha::ChaCha8Rng;

/// The RNG and per-record state the record writers share.
pub(crate) struct Core {
    pub(crate) rng: ChaCha8Rng,
    pub(crate) now: i64,
    pub(crate) tcache: (i64, [u8; 20]),
    pub(crate) last_event_id: [u8; 36],
}

#[derive(Clone, Copy)]
pub(crate) enum ReqId {
    Uuid,
    S3,
    Dynamo,
}

impl Core {
    pub(crate) fn time(&mut self) -> [u8; 20] {
        if self.tcache.0 != self.now {
            self.tcache = (self.now, event_time_text(self.now));
        }
        self.tcache.1
    }

    /// Writes the record head, through `userAgent`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn head(
        &mut self,
        b: &mut Vec<u8>,
        ver: &str,
        ident: &[u8],
        invoked_by: Option<&str>,
        source: &str,
        name: &str,
        region: &str,
        ip: &str,
        ua: &[&str],
    ) {
        let time = self.time();
        put!(b, "{\"eventVersion\":\"", ver, "\",\"userIdentity\":");
        match invoked_by {
            Some(by) if ident.last() == Some(&b'}') => {
                put!(b, ident[..ident.len() - 1], ",\"invokedBy\":\"", by, "\"}")
            }
            _ => put!(b, ident),
        }
        put!(
            b,
            ",\"eventTime\":\"",
            time,
            "\",\"eventSource\":\"",
            source,
            "\",\"eventName\":\"",
            name
        );
        put!(
            b,
            "\",\"awsRegion\":\"",
            region,
            "\",\"sourceIPAddress\":\"",
            ip,
            "\",\"userAgent\":\""
        );
        for p in ua {
            put!(b, p);
        }
        put!(b, "\"");
    }

    /// Writes `requestID`, `eventID`, `readOnly` and remembers the eventID.
    pub(crate) fn ids(&mut self, b: &mut Vec<u8>, req: ReqId, read_only: bool) {
        put!(b, ",\"requestID\":\"");
        match req {
            ReqId::Uuid => put!(b, uuid(&mut self.rng)),
            ReqId::S3 => push_rand(b, &mut self.rng, 16, HEXU, 4),
            ReqId::Dynamo => push_rand(b, &mut self.rng, 52, B32, 5),
        }
        let id = uuid(&mut self.rng);
        self.last_event_id = id;
        put!(
            b,
            "\",\"eventID\":\"",
            id,
            "\",\"readOnly\":",
            if read_only { "true" } else { "false" }
        );
    }

    /// Writes the rest of the record and the line end.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn tail(
        &mut self,
        b: &mut Vec<u8>,
        event_type: &str,
        management: bool,
        recipient: &str,
        shared: bool,
        vpce: Option<(&str, &str)>,
        category: &str,
        tls_host: &[&str],
        console: bool,
    ) {
        put!(
            b,
            ",\"eventType\":\"",
            event_type,
            "\",\"managementEvent\":",
            if management { "true" } else { "false" }
        );
        put!(b, ",\"recipientAccountId\":\"", recipient, "\"");
        if shared {
            put!(b, ",\"sharedEventID\":\"", uuid(&mut self.rng), "\"");
        }
        if let Some((id, acct)) = vpce {
            put!(
                b,
                ",\"vpcEndpointId\":\"",
                id,
                "\",\"vpcEndpointAccountId\":\"",
                acct,
                "\""
            );
        }
        put!(b, ",\"eventCategory\":\"", category, "\"");
        if !tls_host.is_empty() {
            let v13 = self.rng.per_mille(700);
            put!(
                b,
                ",\"tlsDetails\":{\"tlsVersion\":\"",
                if v13 { "TLSv1.3" } else { "TLSv1.2" },
                "\",\"cipherSuite\":\"",
                if v13 {
                    "TLS_AES_128_GCM_SHA256"
                } else {
                    "ECDHE-RSA-AES128-GCM-SHA256"
                },
                "\",\"clientProvidedHostHeader\":\""
            );
            for p in tls_host {
                put!(b, p);
            }
            put!(b, "\"}");
        }
        if console {
            put!(b, ",\"sessionCredentialFromConsole\":\"true\"");
        }
        put!(b, "}\n");
    }

    pub(crate) fn token(&mut self, b: &mut Vec<u8>) {
        put!(b, "IQoJb3JpZ2luX2VjE");
        let n = 780 + self.rng.below(300) as usize;
        push_rand(b, &mut self.rng, n, B64, 6);
    }

    pub(crate) fn s3_extra(&mut self, b: &mut Vec<u8>, bytes_in: u64, bytes_out: u64) {
        put!(
            b,
            ",\"additionalEventData\":{\"SignatureVersion\":\"SigV4\",\"CipherSuite\":\"TLS_AES_128_GCM_SHA256\",\"bytesTransferredIn\":"
        );
        push_u64(b, bytes_in);
        put!(b, ",\"AuthenticationMethod\":\"AuthHeader\",\"x-amz-id-2\":\"");
        push_rand(b, &mut self.rng, 76, B64, 6);
        put!(b, "\",\"bytesTransferredOut\":");
        push_u64(b, bytes_out);
        put!(b, "}");
    }

    pub(crate) fn s3_key(&mut self, b: &mut Vec<u8>) {
        let rng = &mut self.rng;
        let prefix = *rng.pick(&[
            "data/events",
            "exports/daily",
            "uploads/images",
            "reports",
            "models/checkpoints",
            "static/js",
            "logs/app",
        ]);
        put!(
            b,
            prefix,
            "/2024/0",
            [b'1' + rng.below(4) as u8],
            "/",
            [b'1' + rng.below(9) as u8],
            "/part-"
        );
        push_rand(b, rng, 5, HEX, 4);
        put!(b, "-");
        push_rand(b, rng, 8, HEX, 4);
        put!(b, *rng.pick(&[".parquet", ".json.gz", ".jpg", ".csv", ".bin"]));
    }
}

/// The calling side of an API call record.
pub(crate) struct Who<'a> {
    pub(crate) ident: &'a [u8],
    pub(crate) invoked_by: Option<&'a str>,
    pub(crate) ip: &'a str,
    /// User agent, in up to two parts (`aws-cli/… command/` + `s3.cp`).
    pub(crate) ua: [&'a str; 2],
    pub(crate) vpce: Option<(&'a str, &'a str)>,
    /// The caller's ARN, for error messages.
    pub(crate) arn: &'a str,
    /// Thieves get denied now and then.
    pub(crate) thief: bool,
}
