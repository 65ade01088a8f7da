import Foundation

/// Who caused a state change. Written into every audit row and into `sessions.ended_by`.
public enum Actor: Sendable, Equatable {
    /// An end user acting through the API with their own credentials.
    case user(id: Int64)
    /// A person operating Gatehouse through the CLI or the console.
    case `operator`(OperatorIdentity)
    /// Gatehouse itself: expiry, reuse detection, key generation.
    case system

    var typeName: String {
        switch self {
        case .user: "user"
        case .operator: "operator"
        case .system: "system"
        }
    }

    var identifier: String? {
        switch self {
        case .user(let id): String(id)
        case .operator(let identity): identity.name
        case .system: nil
        }
    }

    /// One line for tables and `ended_by`: `user:12`, `operator:alice@203.0.113.9`, `system`.
    public var label: String {
        switch self {
        case .user(let id): "user:\(id)"
        case .operator(let identity): "operator:" + identity.name + (identity.sshClient.map { "@\($0)" } ?? "")
        case .system: "system"
        }
    }
}

/// The person behind an operator action: the OS account and, over SSH, the client address.
public struct OperatorIdentity: Sendable, Equatable {
    public var name: String
    public var sshClient: String?
    /// The front end used: "cli" or "console".
    public var via: String

    public init(name: String, sshClient: String?, via: String) {
        self.name = name
        self.sshClient = sshClient
        self.via = via
    }

    /// The identity of the current process: the effective OS user (not `$USER`, which anyone
    /// can set) and the client address from `SSH_CONNECTION` / `SSH_CLIENT`.
    public static func current(via: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> OperatorIdentity {
        OperatorIdentity(name: osUserName(), sshClient: sshClientAddress(environment), via: via)
    }

    static func sshClientAddress(_ environment: [String: String]) -> String? {
        for variable in ["SSH_CONNECTION", "SSH_CLIENT"] {
            if let value = environment[variable],
               let address = value.split(separator: " ").first, !address.isEmpty {
                return String(address)
            }
        }
        return nil
    }

    private static func osUserName() -> String {
        let uid = geteuid()
        if let entry = getpwuid(uid), let name = entry.pointee.pw_name {
            return String(cString: name)
        }
        return "uid:\(uid)"
    }
}

/// Where an end user's request came from; copied into the audit rows it causes.
public struct ClientContext: Sendable, Equatable {
    public var ip: String?
    public var userAgent: String?
    public var requestId: String?

    public init(ip: String? = nil, userAgent: String? = nil, requestId: String? = nil) {
        self.ip = ip
        self.userAgent = userAgent
        self.requestId = requestId
    }

    public static let none = ClientContext()

    /// The rate-limit key for "per client" policies: the address (an IPv6 one by its /64).
    var clientKey: String { ip.map(IPAddressText.rateLimitKey) ?? "unknown" }
}
