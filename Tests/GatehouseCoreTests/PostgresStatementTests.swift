import Foundation
import GatehouseTestSupport
import Testing
@testable import GatehouseCore

/// What the server refuses or leaves unanswered mid-statement, said as sentences: a statement
/// past its time limit, a filter that ICU accepts but PostgreSQL's regular expressions (AREs)
/// do not, and a server that stops answering without closing the connection.
@Suite("PostgreSQL: statements the server refuses")
struct PostgresStatementTests {
    @Test("a statement past statement_timeout is StorageFault.timedOut (a 503), said as a sentence", .postgresOnly)
    func statementTimeout() async throws {
        let test = try TestGatehouse()
        do {
            _ = try await test.gatehouse.database.read { tx in
                try tx.execute("SET LOCAL statement_timeout = 50")
                return try tx.fetchScalar(Int64.self, "SELECT 1 FROM pg_sleep(30)")
            }
            Issue.record("pg_sleep(30) ran past a 50 ms statement_timeout")
        } catch {
            #expect(StorageFault.classify(error) == .timedOut, "\(error)")
            #expect(test.gatehouse.database.explain(error).contains("ran past its time limit; nothing was changed"))
        }
    }

    @Test("a filter ICU accepts and PostgreSQL refuses (\\p{L}) is a sentence naming why, not a database error", .postgresOnly)
    func refusedRegularExpression() async throws {
        let test = try TestGatehouse()
        _ = try await test.apiLogin("a@example.com")
        let filter = TextFilter(pattern: #"\p{L}+@"#)
        #expect(filter.problem == nil, "ICU reads it")
        do {
            _ = try await test.gatehouse.sessions.list(.init(text: filter))
            Issue.record("PostgreSQL ran \\p{L}")
        } catch {
            let sentence = test.gatehouse.database.explain(error)
            #expect(sentence.contains("not a regular expression PostgreSQL can run") && sentence.contains("invalid"), "\(sentence)")
            #expect(!sentence.contains("database error"))
        }
        // What both engines read alike still filters.
        #expect(try await test.gatehouse.sessions.list(.init(text: TextFilter(pattern: #"a@exam[p]le\.com"#))).count == 1)
    }

    @Test("a server that stops answering without closing (SIGSTOP): the statement gives up after answerWait as 'unreachable', and the pool works again once it answers", .postgresOnly)
    func silentServer() async throws {
        let cluster = try await PostgresCluster.start()
        defer { try? cluster.thaw(); cluster.stop() }
        let database = try GatehouseDatabase.open(path: cluster.url(), options: TestEngine.options(createIfMissing: true))
        defer { try? database.close() }
        let ping: @Sendable (any SQLTransaction) throws -> Int64? = { tx in try tx.fetchScalar(Int64.self, "SELECT 1") }
        #expect(try await database.read(ping) == 1)
        try cluster.freeze()
        do {
            _ = try await database.read(ping)
            Issue.record("a frozen server answered")
        } catch {
            #expect(StorageFault.classify(error) == .unavailable("no answer from the database server within 45 s"), "\(error)")
            #expect(database.explain(error).contains("is unreachable (no answer from the database server within 45 s)"))
        }
        try cluster.thaw()
        // The silent connection was closed; the pool makes another: wait for the state.
        #expect(try await eventually(every: .milliseconds(200)) { (try? await database.read(ping)) == 1 })
    }
}
