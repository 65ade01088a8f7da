import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A TCP connection that sends exactly the bytes a test gives it: for requests no HTTP client
/// would send (a 200 KB header, a lying Content-Length, a NUL in a header) and for clients that
/// stall. Blocking reads run on a thread of their own, never on the cooperative pool.
public final class RawConnection: @unchecked Sendable {
    private let descriptor: Int32

    /// Connects to 127.0.0.1:`port`; `receiveBuffer` shrinks the socket's receive buffer (a
    /// client that reads slowly fills it sooner).
    public init(port: Int, receiveBuffer: Int32? = nil) throws {
        // Close-on-exec: a process another test starts meanwhile must not inherit the socket
        // (it would keep the connection open after this test closed it).
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw RawConnectionError.system("socket", errno) }
        if var size = receiveBuffer {
            setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            Glibc.close(descriptor)
            throw RawConnectionError.system("connect", errno)
        }
    }

    /// `base` as `http://127.0.0.1:PORT`.
    public convenience init(base: String, receiveBuffer: Int32? = nil) throws {
        try self.init(port: Int(base.split(separator: ":").last ?? "") ?? 0, receiveBuffer: receiveBuffer)
    }

    deinit { if !closed { Glibc.close(descriptor) } }

    private var closed = false

    /// Closes the connection now (a client that gives up).
    public func close() {
        guard !closed else { return }
        closed = true
        Glibc.close(descriptor)
    }

    /// Sends all of `bytes`; false when the server has closed the connection meanwhile.
    @discardableResult
    public func send(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent <= 0 { return false }
            offset += sent
        }
        return true
    }

    @discardableResult
    public func send(_ text: String) -> Bool { send(Array(text.utf8)) }

    /// What the server sent until it closed the connection, or until `timeout` passed
    /// (then `closed` is false): the test waits for a state, with a generous bound.
    public func readUntilClosed(timeout: Duration = .seconds(60)) async -> (bytes: [UInt8], closed: Bool) {
        await read(timeout: timeout) { _ in false }
    }

    /// The first whole response (head and `Content-Length` body), leaving the connection open.
    public func readResponse(timeout: Duration = .seconds(60)) async -> RawResponse? {
        let (bytes, _) = await read(timeout: timeout) { RawResponse($0)?.isComplete == true }
        return RawResponse(bytes)
    }

    private func read(timeout: Duration, until done: @escaping @Sendable ([UInt8]) -> Bool) async -> (bytes: [UInt8], closed: Bool) {
        let descriptor = descriptor
        return await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                var received: [UInt8] = []
                let deadline = ContinuousClock.now + timeout
                var buffer = [UInt8](repeating: 0, count: 65536)
                while ContinuousClock.now < deadline {
                    var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
                    let left = deadline - ContinuousClock.now
                    let ready = poll(&poller, 1, Int32(min(1000, max(1, left.components.seconds * 1000))))
                    if ready <= 0 { continue }
                    let count = recv(descriptor, &buffer, buffer.count, 0)
                    if count <= 0 {
                        continuation.resume(returning: (received, true))
                        return
                    }
                    received += buffer[0..<count]
                    if done(received) {
                        continuation.resume(returning: (received, false))
                        return
                    }
                }
                continuation.resume(returning: (received, false))
            }
        }
    }
}

/// A response read off the wire: status, header fields (lower-cased names) and body.
public struct RawResponse: Sendable {
    public var status: Int
    public var headers: [String: String]
    public var body: String
    /// Whether the whole body (per `Content-Length`) has arrived.
    public var isComplete: Bool

    /// The first response in `bytes`, or nil when there is none.
    public init?(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { return nil }
        let lines = text[..<split.lowerBound].split(separator: "\r\n")
        guard let statusLine = lines.first, statusLine.hasPrefix("HTTP/1.1 "),
              let status = Int(statusLine.dropFirst(9).prefix(3)) else { return nil }
        self.status = status
        headers = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let rest = String(text[split.upperBound...])
        let length = headers["content-length"].flatMap(Int.init)
        body = length.map { String(rest.utf8.prefix($0)) ?? rest } ?? rest
        isComplete = length.map { rest.utf8.count >= $0 } ?? false
    }
}

public enum RawConnectionError: Error {
    case system(String, Int32)
}
