/* The C kernels of the fastmlp engine, for float (_f) and double (_d).
 *
 * One file per concern, each a template (*_impl.h) instantiated for both
 * types by its .c file:
 *   activations  hidden activations, fused with the bias, BN and dropout
 *   losses       output layers with their losses (loss and delta in one pass)
 *   optim        the solvers' update loops
 *   regularization  BN statistics and backward pass, dropout, input noise
 *   arrays       gathering, column sums, sums of squares, finiteness, the
 *                few-sample vector-matrix product
 *   sparse       the first layer on inputs that are mostly zeros
 * The component tables (activations, outputs, solvers) are in tables.h.
 */
#ifndef FASTMLP_KERNELS_H
#define FASTMLP_KERNELS_H

#include "common.h"
#include "tables.h"

#include "type_float.h"
#include "kernels_decl.h"
#include "type_end.h"

#include "type_double.h"
#include "kernels_decl.h"
#include "type_end.h"

#endif
