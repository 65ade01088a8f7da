import Foundation

/// An end user, known by a normalised email address.
public struct User: Sendable, Equatable, Codable, SQLRecord {
    public var id: Int64
    public var email: String
    public var createdAt: Date
    /// Credits bought through the payment webhook, in the currency's minor unit.
    public var credits: Int64

    enum CodingKeys: String, CodingKey {
        case id, email, credits
        case createdAt = "created_at"
    }

    /// Decoded by hand, like `Session`: it is read on every refresh.
    public init(row: SQLRow) throws {
        id = try row.decode("id")
        email = try row.decode("email")
        createdAt = try row.decode("created_at") as Date
        credits = try row.decode("credits")
    }

    init(id: Int64, email: String, createdAt: Date, credits: Int64) {
        self.id = id
        self.email = email
        self.createdAt = createdAt
        self.credits = credits
    }

    static func find(email: String, in tx: any SQLTransaction) throws -> User? {
        try tx.fetchOne(User.self, "SELECT * FROM users WHERE email = ?", [email])
    }

    static func find(id: Int64, in tx: any SQLTransaction) throws -> User? {
        try tx.fetchOne(User.self, "SELECT * FROM users WHERE id = ?", [id])
    }

    /// The user with this email, created (and audited) on first use.
    static func findOrCreate(email: String, in tx: any SQLTransaction, at now: Date, context: ClientContext) throws -> User {
        if let user = try find(email: email, in: tx) { return user }
        // ON CONFLICT: on PostgreSQL a concurrent first login can insert the address after the read above; then read it back.
        guard let id = try tx.fetchScalar(Int64.self, """
            INSERT INTO users (email, created_at) VALUES (?, ?) ON CONFLICT (email) DO NOTHING RETURNING id
            """, [email, now.unixSeconds]) else {
            guard let user = try find(email: email, in: tx) else { throw AuthError.notFound("user \(email)") }
            return user
        }
        let user = User(id: id, email: email, createdAt: now, credits: 0)
        try AuditLog.append(AuditEntry(actor: .system, action: "user.created", targetType: "user",
                                       targetId: email, context: context), in: tx, at: now)
        return user
    }
}
