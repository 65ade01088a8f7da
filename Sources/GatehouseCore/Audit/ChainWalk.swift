import Foundation

/// The hash chain checked one row at a time, oldest first: each row must come right after the
/// previous one, name its hash as `prev_hash`, and hash to its own content. One walker serves
/// the full verification, the console's step-by-step verification and the audit report's range,
/// so all three name the same row for the same damage.
struct ChainWalk {
    /// The seq the next row should have.
    private(set) var nextSeq: Int64
    /// The hash the next row should chain from (nil when the row before the start is gone).
    private(set) var previousHash: Data?
    private(set) var checked = 0
    private(set) var firstBrokenSeq: Int64?
    private(set) var problem: String?

    /// Starts after row `seq` whose hash is `hash` (seq 0 and the genesis hash: the beginning).
    init(after seq: Int64, hash: Data?) {
        nextSeq = seq + 1
        previousHash = hash
    }

    static let beginning = ChainWalk(after: 0, hash: AuditLog.genesisHash)

    var isIntact: Bool { firstBrokenSeq == nil }

    /// Checks the next row; false once the chain is broken (later rows prove nothing).
    @discardableResult
    mutating func check(_ event: AuditEvent) -> Bool {
        guard isIntact else { return false }
        if event.prevHash != previousHash || event.seq != nextSeq {
            // A deleted row shows at the row after it, whose prev_hash names the missing one.
            let why = event.seq < nextSeq ? "row \(event.seq) stands outside the chain's numbering (inserted by hand)"
                : event.seq != nextSeq ? "rows \(nextSeq)–\(event.seq - 1) are missing"
                : nextSeq == 1 ? "the first row does not start from the genesis hash"
                : "its prev_hash does not match row \(nextSeq - 1)"
            return fail(at: event.seq, why)
        }
        if event.expectedHash(previous: event.prevHash) != event.hash {
            return fail(at: event.seq, "its content does not match its hash (changed after it was written)")
        }
        previousHash = event.hash
        nextSeq = event.seq + 1
        checked += 1
        return true
    }

    /// Records damage found other than by reading a row (rows gone from the end of a range).
    @discardableResult
    mutating func fail(at seq: Int64, _ why: String) -> Bool {
        if isIntact {
            firstBrokenSeq = seq
            problem = why
        }
        return false
    }
}
