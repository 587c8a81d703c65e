import Testing
import ThawTestSupport
