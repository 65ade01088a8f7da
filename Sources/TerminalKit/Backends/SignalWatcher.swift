import Dispatch
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Turns SIGINT, SIGTERM and SIGHUP into a flag the UI loop checks, so that the loop, not a
/// signal handler, restores the terminal before the process ends.
public final class SignalWatcher {
    private final class Flag: Sendable {
        let signal = Mutex<Int32>(0)
    }

    private let flag = Flag()
    private var sources: [any DispatchSourceSignal] = []

    public init(signals: [Int32] = [SIGINT, SIGTERM, SIGHUP]) {
        for number in signals {
            Glibc.signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [flag] in flag.signal.withLock { $0 = number } }
            source.resume()
            sources.append(source)
        }
    }

    /// The signal that arrived, or nil.
    public var received: Int32? {
        let value = flag.signal.withLock { $0 }
        return value == 0 ? nil : value
    }
}
