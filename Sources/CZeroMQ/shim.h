#ifndef CELLCLUSTER_CZEROMQ_SHIM_H
#define CELLCLUSTER_CZEROMQ_SHIM_H
#include <zmq.h>
#endif
