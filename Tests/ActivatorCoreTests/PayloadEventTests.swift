import ActivatorCore
import Testing

/// The payload logger's pure pieces: chunked bodies read as the response scanner reads them, and
/// captures that keep only what their mode logs.
@Suite struct PayloadEventTests {
    static func decode(_ text: String) -> String? {
        ChunkedBody.decode(Array(text.utf8)).map { String(decoding: $0, as: UTF8.self) }
    }

    @Test func chunkedBodiesDecodeWithExtensionsTrailersAndPaddedSizes() {
        #expect(Self.decode("5\r\nhello\r\n1;a=b\r\n!\r\n0\r\n\r\n") == "hello!")
        #expect(Self.decode("5\t;ext\r\nhello\r\n0\r\nx-checksum: 1\r\n\r\n") == "hello", "a tab before an extension, and a trailer")
        #expect(Self.decode("0000000005\r\nhello\r\n0\r\n\r\n") == "hello", "ten digits, zero-padded")
        #expect(Self.decode("") == "", "no body at all (HEAD, 204, 304)")
    }

    @Test func malformedOrUnfinishedChunkedBodiesAreRefused() {
        #expect(Self.decode("-2\r\nhi\r\n0\r\n\r\n") == nil, "a sign is no hex digit (Int(radix:) would take it)")
        #expect(Self.decode("5\r\nhel") == nil, "cut short")
        #expect(Self.decode("5\r\nhello\r\n") == nil, "no last chunk")
        #expect(Self.decode("1000000000000000\r\nx") == nil, "16 digits")
        #expect(Self.decode("5\r\nhelloXY0\r\n\r\n") == nil, "no CRLF after the data")
    }

    @Test func aCaptureKeepsOnlyWhatItsModeLogsAndSaysWhyItHasNoEvent() throws {
        var capture = PayloadCapture(id: "1", limit: 8, requestContentType: "application/json", keepsRequest: true, keepsResponse: false)
        capture.request(Array("{}".utf8))
        capture.response(Array("ignored".utf8))
        #expect(capture.responseRaw.isEmpty)
        #expect(try capture.requestEvent.get().body == Array("{}".utf8))
        capture.request(Array("0123456789".utf8))
        #expect(capture.requestEvent == .failure(.bodyTooLarge))
        var chunked = PayloadCapture(id: "2", limit: 64, requestContentType: nil)
        chunked.responseStarted(contentType: "text/plain", chunked: true)
        chunked.response(Array("5\r\nhel".utf8))
        #expect(chunked.responseEvent == .failure(.incomplete))
    }

    @Test func eventsCarryTheirAttributesInBinaryMode() {
        let origin = PayloadEvent.Origin(service: "iris", release: "v1", model: "sklearn-iris", component: "predictor", source: "thaw-queue/iris-1")
        let headers = Dictionary(uniqueKeysWithValues: PayloadEvent(id: "abc", kind: .response, contentType: nil, body: []).headers(from: origin))
        #expect(headers["ce-specversion"] == "1.0" && headers["ce-id"] == "abc")
        #expect(headers["ce-type"] == "org.kubeflow.serving.inference.response")
        #expect(headers["ce-service"] == "iris" && headers["ce-release"] == "v1" && headers["ce-model"] == "sklearn-iris")
        #expect(headers["content-type"] == "application/octet-stream")
        #expect(PayloadEvent.Mode.request.logs(.request) && !PayloadEvent.Mode.request.logs(.response) && PayloadEvent.Mode.all.logs(.response))
    }
}
