import NIOCore
import Testing

@testable import ModelMeshServer

@Suite("Connection deadlines without a socket")
struct ConnectionDeadlinesTests {
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    func machine() -> ConnectionDeadlines {
        ConnectionDeadlines(
            headTimeout: .seconds(10), bodyTimeout: .seconds(30), idleTimeout: .seconds(60), now: start)
    }

    @Test("A connection that never completes a head is answered 408 at the head deadline")
    func headDeadline() {
        var m = machine()
        #expect(m.deadline == start + .seconds(10))
        m.bytesReceived(now: start + .seconds(1))
        // Timed from connecting, not from the latest byte.
        #expect(m.deadline == start + .seconds(10))
        #expect(m.deadlineReached(now: start + .seconds(9)) == .none)
        #expect(m.deadlineReached(now: start + .seconds(10)) == .answerTimeoutAndClose(limit: .head))
        #expect(m.phase == .closed)
    }

    @Test("Body bytes push the body deadline; a stall is answered 408 unless an answer began")
    func bodyDeadline() {
        var m = machine()
        m.headReceived(now: start)
        #expect(m.deadline == start + .seconds(30))
        m.bytesReceived(now: start + .seconds(20))
        #expect(m.deadline == start + .seconds(50))
        #expect(m.deadlineReached(now: start + .seconds(50)) == .answerTimeoutAndClose(limit: .body))

        var early = machine()
        early.headReceived(now: start)
        early.answerHeadSent()
        #expect(early.deadlineReached(now: start + .seconds(30)) == .close)
    }

    @Test("Nothing is due while answering; the idle wait starts when the answer ends")
    func respondingThenIdle() {
        var m = machine()
        m.headReceived(now: start)
        m.endReceived(now: start)
        #expect(m.deadline == nil)
        #expect(m.deadlineReached(now: start + .seconds(3600)) == .none)
        m.answerHeadSent()
        m.answerEnded(now: start + .seconds(3600))
        #expect(m.phase == .idle)
        #expect(m.deadline == start + .seconds(3660))
        // The next request's first byte switches to the head deadline.
        m.bytesReceived(now: start + .seconds(3601))
        #expect(m.phase == .awaitingHead)
        #expect(m.deadline == start + .seconds(3611))
    }

    @Test("An idle keep-alive connection is closed without an answer")
    func idleClose() {
        var m = machine()
        m.headReceived(now: start)
        m.endReceived(now: start)
        m.answerEnded(now: start)
        #expect(m.deadlineReached(now: start + .seconds(60)) == .close)
    }

    @Test("A pipelined request's body wait starts once the answer before it ends")
    func pipelined() {
        var m = machine()
        m.headReceived(now: start)
        m.endReceived(now: start)
        m.headReceived(now: start + .seconds(1))
        #expect(m.deadline == nil)
        m.answerEnded(now: start + .seconds(100))
        #expect(m.deadline == start + .seconds(130))
    }

    @Test("Only a head not yet answered can get an error answer")
    func canAnswer() {
        var m = machine()
        #expect(m.canAnswer)
        m.headReceived(now: start)
        m.endReceived(now: start)
        #expect(!m.canAnswer)
        m.close()
        #expect(m.deadline == nil)
        #expect(!m.canAnswer)
    }
}
