import Testing
import ThawVocabulary

@Suite struct EndpointAddressTests {
    @Test func parsesHostAndPortAndBracketedIPv6() {
        #expect(EndpointAddress("127.0.0.1:9001") == EndpointAddress(host: "127.0.0.1", port: 9001))
        #expect(EndpointAddress("[::1]:80") == EndpointAddress(host: "::1", port: 80))
        #expect(EndpointAddress("[::1]:80")?.description == "[::1]:80")
    }

    @Test func rejectsMissingOrOutOfRangePorts() {
        #expect(EndpointAddress("127.0.0.1") == nil)
        #expect(EndpointAddress("127.0.0.1:0") == nil)
        #expect(EndpointAddress("127.0.0.1:65536") == nil)
        #expect(EndpointAddress(":80") == nil)
    }
}
