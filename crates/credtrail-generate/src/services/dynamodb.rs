//! DynamoDB records: item reads, writes and queries.

use crate::calls::{Call, IC};
use crate::record::{Core, ReqId};
use crate::text::{Draw, HEXU, push_rand, push_u64, put};

/// GetItem, PutItem or Query on one of the account's tables.
pub(crate) fn item_call(c: &mut Core, b: &mut Vec<u8>, call: &Call) {
    let Call {
        account: a,
        region,
        kind,
        who,
        ..
    } = *call;
    let acct = a.id.as_str();
    let ua2 = who.ua;
    let table = c.rng.pick(&a.tables).as_str();
    let name = match kind {
        IC::DdbGet => "GetItem",
        IC::DdbPut => "PutItem",
        _ => "Query",
    };
    c.head(
        b,
        "1.09",
        who.ident,
        None,
        "dynamodb.amazonaws.com",
        name,
        region,
        who.ip,
        &ua2,
    );
    put!(b, ",\"requestParameters\":{\"tableName\":\"", table, "\"");
    match kind {
        IC::DdbQuery => put!(
            b,
            ",\"keyConditionExpression\":\"#pk = :pk AND begins_with(#sk, :sk)\",\"limit\":100,\"consistentRead\":false"
        ),
        _ => {
            put!(b, ",\"key\":{\"pk\":\"ORDER#");
            push_rand(b, &mut c.rng, 12, HEXU, 4);
            put!(b, "\",\"sk\":\"ITEM#");
            push_u64(b, c.rng.below(100));
            put!(b, "\"}");
        }
    }
    put!(b, "},\"responseElements\":null");
    c.ids(b, ReqId::Dynamo, kind != IC::DdbPut);
    put!(
        b,
        ",\"resources\":[{\"accountId\":\"",
        acct,
        "\",\"type\":\"AWS::DynamoDB::Table\",\"ARN\":\"arn:aws:dynamodb:",
        region,
        ":",
        acct,
        ":table/",
        table,
        "\"}]"
    );
    c.tail(
        b,
        "AwsApiCall",
        false,
        acct,
        false,
        who.vpce,
        "Data",
        &["dynamodb.", region, ".amazonaws.com"],
        false,
    );
}
