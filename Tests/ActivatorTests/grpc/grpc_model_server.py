"""A KServe-V2-shaped gRPC model server for tests, on Python's grpcio (a peer nobody here wrote).

ModelInfer doubles the fp32 contents of its first input; ModelStreamInfer answers each request with
one response per element (server streaming inside Triton's bidirectional method). The standard
grpc.health.v1 service (grpcio-health-checking) reports SERVING once --ready-after seconds pass;
ServerReady says the same. Prints "listening on PORT" once bound.

  --port N           0 picks a free port
  --ready-after S    not ready for S seconds after start
  --delay S          every ModelInfer takes S seconds
  --crash-after N    the process exits (os._exit) during its Nth ModelInfer call
  --name NAME        model_version in answers, to tell servers apart
"""
import argparse, os, sys, threading, time, tempfile
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from inference_proto import pb, rpc  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, default=0)
parser.add_argument("--ready-after", type=float, default=0)
parser.add_argument("--delay", type=float, default=0)
parser.add_argument("--crash-after", type=int, default=0)
parser.add_argument("--name", default=str(os.getpid()))
args = parser.parse_args()
started = time.monotonic()
calls = 0
in_flight = 0
lock = threading.Lock()


def ready():
    return time.monotonic() - started >= args.ready_after


def doubled(request):
    response = pb.ModelInferResponse(model_name=request.model_name, model_version=args.name, id=request.id)
    for tensor in request.inputs:
        out = response.outputs.add(name=tensor.name + "_doubled", datatype=tensor.datatype, shape=tensor.shape)
        out.contents.fp32_contents.extend(2 * v for v in tensor.contents.fp32_contents)
    return response


class Inference(rpc.GRPCInferenceServiceServicer):
    def ServerLive(self, request, context):
        return pb.ServerLiveResponse(live=True)

    def ServerReady(self, request, context):
        return pb.ServerReadyResponse(ready=ready())

    def ModelReady(self, request, context):
        return pb.ModelReadyResponse(ready=ready())

    def ModelInfer(self, request, context):
        global calls, in_flight
        with lock:
            calls += 1
            in_flight += 1
            n = calls
            print(f"in flight {in_flight}", flush=True)
        try:
            return self.infer(request, context, n)
        finally:
            with lock:
                in_flight -= 1

    def infer(self, request, context, n):
        if args.crash_after and n >= args.crash_after:
            os._exit(3)
        if args.delay:
            deadline = time.monotonic() + args.delay
            while time.monotonic() < deadline:
                if not context.is_active():
                    print(f"call {request.id} cancelled", flush=True)
                    return pb.ModelInferResponse()
                time.sleep(0.01)
        return doubled(request)

    def ModelStreamInfer(self, requests, context):
        for request in requests:
            if request.id.startswith("big:"):
                # "big:N:SIZE": N responses of SIZE bytes each, as fast as flow control lets them go.
                _, count, size = request.id.split(":")
                blob = bytes(int(size))
                for i in range(int(count)):
                    response = pb.ModelInferResponse(model_name=request.model_name, id=str(i))
                    response.raw_output_contents.append(blob)
                    yield pb.ModelStreamInferResponse(infer_response=response)
                continue
            for i, value in enumerate(request.inputs[0].contents.fp32_contents):
                response = pb.ModelInferResponse(model_name=request.model_name, model_version=args.name, id=f"{request.id}/{i}")
                out = response.outputs.add(name="element", datatype="FP32", shape=[1])
                out.contents.fp32_contents.append(2 * value)
                yield pb.ModelStreamInferResponse(infer_response=response)
                time.sleep(0.01)


server = grpc.server(futures.ThreadPoolExecutor(max_workers=32))
rpc.add_GRPCInferenceServiceServicer_to_server(Inference(), server)
health_servicer = health.HealthServicer()
health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
health_servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
port = server.add_insecure_port(f"127.0.0.1:{args.port}")
server.start()
print(f"listening on {port}", flush=True)


def become_ready():
    time.sleep(args.ready_after)
    health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    print("serving", flush=True)


threading.Thread(target=become_ready, daemon=True).start()
server.wait_for_termination()
