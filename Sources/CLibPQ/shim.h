#ifndef CELLCLUSTER_CLIBPQ_SHIM_H
#define CELLCLUSTER_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
