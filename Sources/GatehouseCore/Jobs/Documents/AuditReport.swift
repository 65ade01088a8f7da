import Foundation

/// `audit-report`: the audit events in a time range, optionally filtered by action (exact or
/// `prefix*`), actor (`operator:alice`, `system`, `user:12` or a type alone), target
/// (`session:ses_…` or a type) and outcome; as CSV and JSON Lines, with the hash-chain
/// verification of the whole range (filters do not skip verification).
///
/// Streamed: rows are read in keyset batches of 5,000 (short read transactions, so the server's
/// checkpoints are not held back) and appended to the files, so memory stays flat for any size.
enum AuditReport {
    static let batchSize = 5_000

    struct Filter {
        var action: String?
        var actor: String?
        var target: String?
        var outcome: String?

        func matches(_ event: AuditEvent) -> Bool {
            if let action {
                if action.hasSuffix("*") { guard event.action.hasPrefix(action.dropLast()) else { return false } }
                else { guard event.action == action else { return false } }
            }
            if let actor {
                let label = event.actorType + (event.actorId.map { ":\($0)" } ?? "")
                guard actor == event.actorType || actor == label else { return false }
            }
            if let target {
                let label = (event.targetType ?? "") + ":" + (event.targetId ?? "")
                guard target == event.targetType || target == label else { return false }
            }
            if let outcome { guard event.outcome == outcome else { return false } }
            return true
        }
    }

    static func write(_ context: JobContext, database: GatehouseDatabase) async throws -> [JobOutput] {
        let arguments = context.job.arguments
        guard let from = arguments["from"].flatMap(Timestamp.parse), let to = arguments["to"].flatMap(Timestamp.parse) else {
            throw PermanentJobFailure("audit-report needs from and to")
        }
        let filter = Filter(action: arguments["action"], actor: arguments["actor"], target: arguments["target"], outcome: arguments["outcome"])
        try await context.progress(1, "finding the range")
        let (first, last) = try await database.read { tx in try seqRange(from: from, to: to, in: tx) }

        let base = "audit-report-\(context.job.id)"
        let csv = try DocumentFile(directory: context.directory, name: base + ".csv", mediaType: "text/csv")
        let jsonl = try DocumentFile(directory: context.directory, name: base + ".jsonl", mediaType: "application/x-ndjson")
        let verificationFile = try DocumentFile(directory: context.directory, name: base + "-verification.json", mediaType: "application/json")
        do {
            try csv.write("seq,at,actor_type,actor_id,action,target_type,target_id,outcome,reason,ip,user_agent,request_id,details\n")
            let previous = try await database.read { tx in
                // The row before the range, or (when it was archived) the hash its archive ends with.
                first > 1 ? try tx.fetchScalar(Data.self, "SELECT hash FROM audit_events WHERE seq = ?", [first - 1])
                    ?? tx.fetchScalar(Data.self, "SELECT last_hash FROM audit_archives WHERE last_seq = ?", [first - 1])
                    : AuditLog.genesisHash
            }
            // Linked to the row before the range, so a range cut from a rewritten log fails too.
            var walk = ChainWalk(after: first - 1, hash: previous)
            var cursor = first - 1
            var written = 0
            while cursor < last {
                let batch = try await database.read { [cursor] tx in
                    try tx.fetchAll(AuditEvent.self, "SELECT * FROM audit_events WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
                                    [cursor, last, batchSize])
                }
                guard let lastInBatch = batch.last else { break }
                var csvChunk = ""
                var jsonChunk = ""
                for event in batch {
                    walk.check(event)
                    guard event.at >= from, event.at < to, filter.matches(event) else { continue }
                    csvChunk += csvLine(event)
                    jsonChunk += jsonLine(event) + "\n"
                    written += 1
                }
                try csv.write(csvChunk)
                try jsonl.write(jsonChunk)
                cursor = lastInBatch.seq
                let done = last > first ? Int(Double(cursor - first + 1) / Double(last - first + 1) * 97) : 97
                try await context.progress(min(97, max(2, done)), "\(written.formatted()) events written, seq \(cursor)")
            }
            if last >= first, walk.isIntact, walk.nextSeq != last + 1 {
                walk.fail(at: walk.nextSeq, "rows \(walk.nextSeq)–\(last) are missing")
            }
            try verificationFile.write(verificationJSON(walk, fromSeq: first, toSeq: last, events: written, from: from, to: to,
                                                        filter: arguments))
            return [try csv.finish(), try jsonl.finish(), try verificationFile.finish()]
        } catch {
            csv.discard()
            jsonl.discard()
            verificationFile.discard()
            throw error
        }
    }

    /// The seq range whose `at` falls in [from, to), by binary search over seq (the primary
    /// key): `at` grows with seq, and an index on `at` would cost every audit append.
    static func seqRange(from: Date, to: Date, in tx: any SQLTransaction) throws -> (Int64, Int64) {
        guard let bounds = try tx.fetchOne("SELECT min(seq) AS low, max(seq) AS high FROM audit_events"),
              let low = try bounds.decode("low", as: Int64?.self), let high = try bounds.decode("high", as: Int64?.self) else { return (1, 0) }
        func firstSeq(atOrAfter date: Date) throws -> Int64 {
            var lower = low, upper = high + 1
            while lower < upper {
                let middle = lower + (upper - lower) / 2
                let row = try tx.fetchOne("SELECT seq, at FROM audit_events WHERE seq >= ? ORDER BY seq LIMIT 1", [middle])
                guard let row, try row.decode("at", as: Double.self) < date.unixSeconds else { upper = middle; continue }
                lower = try row.decode("seq", as: Int64.self) + 1
            }
            return lower
        }
        return (try firstSeq(atOrAfter: from), try firstSeq(atOrAfter: to) - 1)
    }

    static func csvLine(_ event: AuditEvent) -> String {
        // RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled. Scanned
        // as bytes: this runs for every row of reports with millions of them.
        var out: [UInt8] = []
        out.reserveCapacity(256)
        func field(_ value: String?, last: Bool = false) {
            if let value {
                let needsQuotes = value.utf8.contains { (byte: UInt8) -> Bool in
                    switch byte {
                    case UInt8(ascii: ","), UInt8(ascii: "\""), 0x0A, 0x0D: true
                    default: false
                    }
                }
                if needsQuotes {
                    out.append(UInt8(ascii: "\""))
                    for byte in value.utf8 {
                        if byte == UInt8(ascii: "\"") { out.append(byte) }
                        out.append(byte)
                    }
                    out.append(UInt8(ascii: "\""))
                } else {
                    out.append(contentsOf: value.utf8)
                }
            }
            out.append(last ? 0x0A : UInt8(ascii: ","))
        }
        field(String(event.seq))
        field(Timestamp.iso8601(event.at))
        field(event.actorType)
        field(event.actorId)
        field(event.action)
        field(event.targetType)
        field(event.targetId)
        field(event.outcome)
        field(event.reason)
        field(event.ip)
        field(event.userAgent)
        field(event.requestId)
        field(event.details, last: true)
        return String(decoding: out, as: UTF8.self)
    }

    static func jsonLine(_ event: AuditEvent) -> String {
        """
        {"seq":\(event.seq),"at":\(JSONText.date(event.at)),"actor_type":\(JSONText.string(event.actorType)),\
        "actor_id":\(JSONText.string(event.actorId)),"action":\(JSONText.string(event.action)),\
        "target_type":\(JSONText.string(event.targetType)),"target_id":\(JSONText.string(event.targetId)),\
        "outcome":\(JSONText.string(event.outcome)),"reason":\(JSONText.string(event.reason)),"ip":\(JSONText.string(event.ip)),\
        "user_agent":\(JSONText.string(event.userAgent)),"request_id":\(JSONText.string(event.requestId)),\
        "details":\(event.details ?? "null"),"hash":"\(Fingerprint.hex(event.hash))"}
        """
    }

    static func verificationJSON(_ walk: ChainWalk, fromSeq: Int64, toSeq: Int64, events: Int, from: Date, to: Date,
                                 filter: [String: String]) -> String {
        let filters = filter.filter { !["from", "to"].contains($0.key) }
        return """
            {"from":\(JSONText.date(from)),"to":\(JSONText.date(to)),"filters":\(CanonicalJSON.object(filters)),\
            "events_written":\(events),"from_seq":\(fromSeq),"to_seq":\(toSeq),"rows_verified":\(walk.checked),\
            "intact":\(walk.isIntact),"first_broken_seq":\(walk.firstBrokenSeq.map(String.init) ?? "null"),\
            "problem":\(JSONText.string(walk.problem))}

            """
    }
}
