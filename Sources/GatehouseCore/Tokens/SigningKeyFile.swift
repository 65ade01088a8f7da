import Foundation

/// Private signing keys kept outside the database: a JSON file, mode 0600, named in config
/// (`[keys] file`, `--signing-keys`, $GATEHOUSE_SIGNING_KEYS). A copy of the database then
/// carries public keys only. The database still records every key (kid, state, public key);
/// the file holds the private halves by kid:
///
///     {"format":"gatehouse-signing-keys/1","keys":[{"kid":"…","private_key_pem":"-----BEGIN PRIVATE KEY-----…"}]}
///
/// Every node that signs needs the file (or a copy of it after each rotation). Writes replace
/// the file atomically (a temporary file in the same folder, then rename).
public struct SigningKeyFile: Sendable, Equatable {
    public let path: String
    static let format = "gatehouse-signing-keys/1"

    public init(path: String) { self.path = path }

    public struct Problem: Error, Equatable, CustomStringConvertible {
        public var description: String
    }

    private struct Document: Codable {
        var format: String
        var keys: [Entry]
    }

    private struct Entry: Codable {
        var kid: String
        var privateKeyPEM: String

        enum CodingKeys: String, CodingKey {
            case kid
            case privateKeyPEM = "private_key_pem"
        }
    }

    /// The private keys by kid; an absent file has none. Refuses a file others can read.
    public func load() throws(Problem) -> [String: String] {
        guard FileManager.default.fileExists(atPath: path) else { return [:] }
        var status = stat()
        guard stat(path, &status) == 0 else { throw Problem(description: "cannot read the signing-key file \(path): \(String(cString: strerror(errno)))") }
        if status.st_mode & 0o077 != 0 {
            throw Problem(description: "the signing-key file \(path) can be read by others (mode \(String(status.st_mode & 0o777, radix: 8))): chmod 600 \(path)")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Problem(description: "cannot read the signing-key file \(path)")
        }
        guard let document = try? JSONDecoder().decode(Document.self, from: data), document.format == Self.format else {
            throw Problem(description: "\(path) is not a Gatehouse signing-key file (\(Self.format))")
        }
        return Dictionary(document.keys.map { ($0.kid, $0.privateKeyPEM) }, uniquingKeysWith: { first, _ in first })
    }

    /// Adds a key, creating the file (0600) when absent.
    func add(kid: String, privateKeyPEM: String) throws(Problem) {
        var keys = try load()
        keys[kid] = privateKeyPEM
        try write(keys)
    }

    /// Removes a key's private half (retirement: it must not sign again).
    func remove(kid: String) throws(Problem) {
        var keys = try load()
        guard keys.removeValue(forKey: kid) != nil else { return }
        try write(keys)
    }

    private func write(_ keys: [String: String]) throws(Problem) {
        let document = Document(format: Self.format, keys: keys.sorted { $0.key < $1.key }.map { Entry(kid: $0.key, privateKeyPEM: $0.value) })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let temporary = path + ".tmp-\(getpid())"
        do {
            let data = try encoder.encode(document)
            // Created 0600 before any byte is written: the key is never readable by others.
            let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard descriptor >= 0 else { throw Problem(description: "cannot write \(temporary): \(String(cString: strerror(errno)))") }
            let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
            try handle.write(contentsOf: data)
            try handle.synchronize()
            try handle.close()
            guard rename(temporary, path) == 0 else { throw Problem(description: "cannot replace \(path): \(String(cString: strerror(errno)))") }
        } catch let problem as Problem {
            unlink(temporary)
            throw problem
        } catch {
            unlink(temporary)
            throw Problem(description: "cannot write the signing-key file \(path): \(error.localizedDescription)")
        }
    }
}
