import Foundation

/// A document job as stored.
public struct Job: Sendable, Equatable, Identifiable, SQLRecord {
    public enum State: String, Sendable, Codable, CaseIterable {
        case queued, running, succeeded, failed, cancelled

        public var isFinished: Bool { self == .succeeded || self == .failed || self == .cancelled }
    }

    public var id: Int64
    public var kind: String
    /// The job's arguments as a JSON object of strings (`{"user":"alice@example.com"}`).
    public var arguments: [String: String]
    public var priority: Int
    public var state: State
    public var uniqueKey: String?
    /// Not claimed before this moment (later after each failed attempt: backoff).
    public var runAt: Date
    public var attempts: Int
    public var maxAttempts: Int
    /// The worker holding the job (`host:pid:slot`), while it runs.
    public var leaseOwner: String?
    public var leaseExpiresAt: Date?
    public var heartbeatAt: Date?
    public var cancelRequested: Bool
    /// 0–100.
    public var progress: Int
    public var progressNote: String?
    public var lastError: String?
    /// `Actor.label` of whoever started it.
    public var requestedBy: String
    public var createdAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?

    /// Times are stored as unix seconds (`REAL` / `double precision`).
    public init(row: SQLRow) throws {
        id = try row.decode("id")
        kind = try row.decode("kind")
        // JSONSerialization: several times faster than JSONDecoder for a flat object, and every
        // claim decodes one.
        let argumentsJSON: String = try row.decode("arguments")
        arguments = (try? JSONSerialization.jsonObject(with: Data(argumentsJSON.utf8))) as? [String: String] ?? [:]
        priority = try row.decode("priority")
        state = try State(rawValue: row.decode("state")) ?? .failed
        uniqueKey = try row.decode("unique_key")
        runAt = try row.decode("run_at")
        attempts = try row.decode("attempts")
        maxAttempts = try row.decode("max_attempts")
        leaseOwner = try row.decode("lease_owner")
        leaseExpiresAt = try row.decode("lease_expires_at")
        heartbeatAt = try row.decode("heartbeat_at")
        cancelRequested = try row.decode("cancel_requested")
        progress = try row.decode("progress")
        progressNote = try row.decode("progress_note")
        lastError = try row.decode("last_error")
        requestedBy = try row.decode("requested_by")
        createdAt = try row.decode("created_at")
        startedAt = try row.decode("started_at")
        finishedAt = try row.decode("finished_at")
    }
}

/// A file a job wrote, with what proves it unchanged.
public struct JobOutput: Sendable, Equatable, Codable, SQLRecord {
    public var name: String
    public var path: String
    public var mediaType: String
    public var size: Int64
    /// Lowercase hex.
    public var sha256: String

    public init(name: String, path: String, mediaType: String, size: Int64, sha256: String) {
        self.name = name
        self.path = path
        self.mediaType = mediaType
        self.size = size
        self.sha256 = sha256
    }

    public init(row: SQLRow) throws {
        name = try row.decode("name")
        path = try row.decode("path")
        mediaType = try row.decode("media_type")
        size = try row.decode("size")
        sha256 = try Fingerprint.hex(row.decode("sha256", as: Data.self))
    }

    enum CodingKeys: String, CodingKey {
        case name, path, size, sha256
        case mediaType = "media_type"
    }
}

/// What `enqueue` asks for.
public struct JobRequest: Sendable, Equatable {
    public var kind: String
    public var arguments: [String: String]
    public var priority: Int
    /// Not before this moment (nil: now).
    public var runAt: Date?
    /// At most one waiting or running job per key: a second request gets the first job back.
    public var uniqueKey: String?
    public var maxAttempts: Int

    public init(kind: String, arguments: [String: String] = [:], priority: Int = 0, runAt: Date? = nil,
                uniqueKey: String? = nil, maxAttempts: Int = 5) {
        self.kind = kind
        self.arguments = arguments
        self.priority = priority
        self.runAt = runAt
        self.uniqueKey = uniqueKey
        self.maxAttempts = maxAttempts
    }
}

/// Retry delays: attempt⁴ seconds (1, 16, 81, 256, 625…) plus up to 10% + 1 s of jitter, so
/// that jobs failing together do not retry in lockstep.
public enum JobBackoff {
    public static func delay(afterAttempt attempt: Int, jitter: Double = Double.random(in: 0..<1)) -> TimeInterval {
        let base = pow(Double(max(1, attempt)), 4)
        return base + jitter * (base * 0.1 + 1)
    }
}

public enum JobError: Error, Equatable, CustomStringConvertible {
    case unknownKind(String)
    case invalidArguments(String)
    case notFound(Int64)
    /// The operation does not apply in the job's current state.
    case wrongState(id: Int64, state: Job.State, wanted: String)

    public var description: String {
        switch self {
        case .unknownKind(let kind): "unknown job kind '\(kind)' (user-export, audit-report, retention)"
        case .invalidArguments(let why): "invalid job arguments: \(why)"
        case .notFound(let id): "job \(id) not found"
        case .wrongState(let id, let state, let wanted): "job \(id) is \(state.rawValue); \(wanted)"
        }
    }
}
