#include <oneapi/dnnl/dnnl.h>

// libdnnl 2.x from Debian runs its kernels on OpenMP threads (libgomp). omp.h belongs to GCC's
// include directory, which Swift's clang does not search, so the two calls used are declared here.
int omp_get_max_threads(void);
void omp_set_num_threads(int count);
