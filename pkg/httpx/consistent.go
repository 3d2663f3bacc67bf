package httpx

// ConsistentHeader says, on the answer to a read that asked for versions (min_version), whether the read
// saw them: "true" or "false". The search service sets it; the gateway's merge of shards sets it for all.
const ConsistentHeader = "Marquee-Consistent"
