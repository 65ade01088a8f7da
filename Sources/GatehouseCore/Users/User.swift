import Foundation
import GRDB

/// An end user, known by a normalised email address.
public struct User: Sendable, Equatable, Codable, FetchableRecord {
    public var id: Int64
    public var email: String
    public var createdAt: Date
    /// Credits bought through the payment webhook, in the currency's minor unit.
    public var credits: Int64

    enum CodingKeys: String, CodingKey {
        case id, email, credits
        case createdAt = "created_at"
    }

    public static let databaseDateDecodingStrategy = DatabaseDateDecodingStrategy.timeIntervalSince1970

    /// Decoded by hand, like `Session`: it is read on every refresh.
    public init(row: Row) throws {
        id = row["id"]
        email = row["email"]
        createdAt = Date(unixSeconds: row["created_at"])
        credits = row["credits"]
    }

    init(id: Int64, email: String, createdAt: Date, credits: Int64) {
        self.id = id
        self.email = email
        self.createdAt = createdAt
        self.credits = credits
    }

    static func find(email: String, in db: Database) throws -> User? {
        try db.fetchRecordCached(User.self, "SELECT * FROM users WHERE email = ?", arguments: [email])
    }

    static func find(id: Int64, in db: Database) throws -> User? {
        try db.fetchRecordCached(User.self, "SELECT * FROM users WHERE id = ?", arguments: [id])
    }

    /// The user with this email, created (and audited) on first use.
    static func findOrCreate(email: String, in db: Database, at now: Date, context: ClientContext) throws -> User {
        if let user = try find(email: email, in: db) { return user }
        try db.execute(sql: "INSERT INTO users (email, created_at) VALUES (?, ?)", arguments: [email, now.unixSeconds])
        let user = User(id: db.lastInsertedRowID, email: email, createdAt: now, credits: 0)
        try AuditLog.append(AuditEntry(actor: .system, action: "user.created", targetType: "user",
                                       targetId: email, context: context), in: db, at: now)
        return user
    }
}
