import ActivatorCore
import Testing

/// The gRPC pieces the activator answers calls with itself.
@Suite struct GRPCCallTests {
    @Test func ownAnswersMapToStatusesAClientRetriesOnlyWhereARetryCanWork() {
        #expect(GRPCCall.status(reason: "timeout", httpStatus: 504) == .deadlineExceeded)
        for reason in ["queue_full", "target_failed", "shutting_down", "replica_failed"] {
            #expect(GRPCCall.status(reason: reason, httpStatus: 503) == .unavailable, "\(reason)")
        }
        #expect(GRPCCall.status(reason: "bad_request", httpStatus: 400) == .internalError)
        #expect(GRPCCall.status(reason: "no_route", httpStatus: 404) == .unimplemented, "no route: retrying cannot help")
        #expect(GRPCCall.status(reason: "no_route", httpStatus: 505) == .failedPrecondition, "a target that speaks HTTP/1.1 only")
        #expect(GRPCCall.trailers(.unavailable, message: "50% full").map { "\($0.0): \($0.1)" } == ["grpc-status: 14", "grpc-message: 50%25 full"])
    }

    @Test func aCallsOwnTimeoutShortensTheTargetsAndNeverOverflows() {
        #expect(GRPCCall.callTimeout(target: .seconds(300), header: "250m") == .milliseconds(250))
        #expect(GRPCCall.callTimeout(target: .seconds(300), header: "10M") == .seconds(300), "never longer than the target's")
        #expect(GRPCCall.callTimeout(target: .seconds(300), header: nil) == .seconds(300))
        #expect(GRPCCall.callTimeout(target: .seconds(300), header: "soon") == .seconds(300))
        // 99,999,999 hours is 3.6e20 ns, past Int64: it must compare, not multiply (the first version trapped).
        #expect(GRPCCall.callTimeout(target: .seconds(86_400), header: "99999999H") == .seconds(86_400))
    }

    @Test func aCallIsGRPCByItsContentType() {
        #expect(GRPCCall.isGRPC(contentType: "application/grpc"))
        #expect(GRPCCall.isGRPC(contentType: "application/grpc+proto"))
        #expect(!GRPCCall.isGRPC(contentType: "application/json"))
        #expect(!GRPCCall.isGRPC(contentType: nil))
    }

    @Test func refusalsBecomeTheStatusesAGRPCClientUnderstands() {
        let full = GRPCCall.trailers(for: .queueFull(target: "llm", limit: 10))
        #expect(full.first?.0 == "grpc-status" && full.first?.1 == "14", "UNAVAILABLE: the client may retry")
        #expect(GRPCCall.trailers(for: .targetFailed(target: "llm", reason: "CrashLoopBackOff")).first?.1 == "14")
        #expect(GRPCCall.trailers(for: .timedOut(target: "llm", seconds: 2, queued: true)).first?.1 == "4", "DEADLINE_EXCEEDED")
        #expect(full.last?.0 == "grpc-message")
        #expect(full.last?.1.contains("queueLimit") == true)
    }

    @Test func theMessageIsPercentEncodedAsTheSpecSays() {
        #expect(GRPCCall.percentEncoded("plain text: ok") == "plain text: ok")
        #expect(GRPCCall.percentEncoded("100% sure") == "100%25 sure")
        #expect(GRPCCall.percentEncoded("line\nbreak") == "line%0Abreak")
        #expect(GRPCCall.percentEncoded("café") == "caf%C3%A9")
    }

    @Test func grpcTimeoutHeadersParseWithEveryUnitAndRefuseTheRest() {
        #expect(GRPCCall.timeout("1H") == .seconds(3600))
        #expect(GRPCCall.timeout("2M") == .seconds(120))
        #expect(GRPCCall.timeout("30S") == .seconds(30))
        #expect(GRPCCall.timeout("250m") == .milliseconds(250))
        #expect(GRPCCall.timeout("99999999u") == .microseconds(99_999_999))
        #expect(GRPCCall.timeout("5n") == .nanoseconds(5))
        for bad in ["", "S", "10", "123456789S", "1.5S", "-1S", "10s", "10 S"] {
            #expect(GRPCCall.timeout(bad) == nil, "\(bad)")
        }
    }

    @Test func thePrefaceTellsHTTP2FromHTTP1AsSoonAsItCan() {
        let preface = ConnectionPreface.http2
        #expect(ConnectionPreface.classify(preface) == .http2)
        #expect(ConnectionPreface.classify(preface + [0, 0, 18]) == .http2, "the SETTINGS frame that follows")
        #expect(ConnectionPreface.classify(preface.prefix(3)) == .undecided, "\"PRI\" could still be either")
        #expect(ConnectionPreface.classify([UInt8]()) == .undecided)
        #expect(ConnectionPreface.classify(Array("POST /v2/models/digits/infer HTTP/1.1\r\n".utf8)) == .http1)
        #expect(ConnectionPreface.classify(Array("PRIX".utf8)) == .http1, "decided at the first byte that differs")
        #expect(ConnectionPreface.classify(Array("PUT / HTTP/1.1\r\n".utf8)) == .http1)
    }
}
