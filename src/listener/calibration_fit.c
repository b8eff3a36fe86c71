/* listener: the calibration's adjustment of a reader -- a bias on its
 * log-probabilities fitted by Newton's method (a penalised multinomial
 * logistic regression with the reader's log-probabilities as fixed offsets),
 * and its application to a reading. */
#include <math.h>
#include <string.h>

#include "listener/listener_internal.h"

#define K ET_EXPR_COUNT

/* softmax(z + b) into p. */
static void softmax_shift(const double z[K], const double b[K], double p[K])
{
    double m = -INFINITY;
    for (int k = 0; k < K; k++)
        m = fmax(m, z[k] + b[k]);
    double sum = 0;
    for (int k = 0; k < K; k++)
        sum += p[k] = exp(z[k] + b[k] - m);
    for (int k = 0; k < K; k++)
        p[k] /= sum;
}

/* Solves A x = r for a symmetric positive definite A (Cholesky, A = L L^T);
 * false when A is not positive definite. */
static bool cholesky_solve(const double a[K][K], const double r[K], double x[K])
{
    double l[K][K] = {{0}};
    for (int i = 0; i < K; i++) {
        for (int j = 0; j <= i; j++) {
            double s = a[i][j];
            for (int k = 0; k < j; k++)
                s -= l[i][k] * l[j][k];
            if (i == j) {
                if (!(s > 0))
                    return false;
                l[i][i] = sqrt(s);
            } else {
                l[i][j] = s / l[j][j];
            }
        }
    }
    double t[K];
    for (int i = 0; i < K; i++) { /* L t = r */
        double s = r[i];
        for (int k = 0; k < i; k++)
            s -= l[i][k] * t[k];
        t[i] = s / l[i][i];
    }
    for (int i = K - 1; i >= 0; i--) { /* L^T x = t */
        double s = t[i];
        for (int k = i + 1; k < K; k++)
            s -= l[k][i] * x[k];
        x[i] = s / l[i][i];
    }
    return true;
}

/* The gradient g and Hessian h of the penalised loss at b. */
static void gradient_hessian(const double (*z)[K], const int *y, size_t n, double lambda,
                             const double b[K], double g[K], double h[K][K])
{
    for (int j = 0; j < K; j++) {
        g[j] = lambda * b[j];
        for (int k = 0; k < K; k++)
            h[j][k] = j == k ? lambda : 0;
    }
    for (size_t i = 0; i < n; i++) {
        double p[K];
        softmax_shift(z[i], b, p);
        for (int j = 0; j < K; j++) {
            g[j] += p[j] - (y[i] == j);
            for (int k = 0; k < K; k++)
                h[j][k] += (j == k ? p[j] : 0) - p[j] * p[k];
        }
    }
}

et_status et_listener_calib_fit(const double (*z)[K], const int *y, size_t n, double lambda,
                                double b[K], int *iterations, char *err)
{
    if (!b || (n && (!z || !y)))
        return et_fail(err, ET_E_INVALID, "et_listener_calib_fit: NULL argument");
    if (!(lambda > 0) || !isfinite(lambda))
        return et_fail(err, ET_E_INVALID, "calibration penalty %g is not > 0", lambda);
    for (size_t i = 0; i < n; i++) {
        if (y[i] < 0 || y[i] >= K)
            return et_fail(err, ET_E_INVALID, "example %zu: label %d is not an expression", i,
                           y[i]);
        for (int k = 0; k < K; k++)
            if (!isfinite(z[i][k]))
                return et_fail(err, ET_E_INVALID, "example %zu: log-probability not finite",
                               i);
    }
    memset(b, 0, K * sizeof *b);
    int it = 0;
    while (it < ET_LISTENER_CALIB_MAX_ITER) {
        double g[K], h[K][K], step[K];
        gradient_hessian(z, y, n, lambda, b, g, h);
        if (!cholesky_solve(h, g, step)) /* H >= lambda I: not for finite input */
            return et_fail(err, ET_E_INVALID, "calibration: the Hessian is not definite");
        double largest = 0;
        for (int k = 0; k < K; k++) {
            b[k] -= step[k];
            largest = fmax(largest, fabs(step[k]));
        }
        it++;
        if (largest < ET_LISTENER_CALIB_TOL)
            break;
    }
    if (iterations)
        *iterations = it;
    return ET_OK;
}

void et_listener_calib_logits(const float p[K], double z[K])
{
    for (int k = 0; k < K; k++) {
        double v = p[k];
        z[k] = log(v > ET_VISION_HEAD_LOG_FLOOR ? v : ET_VISION_HEAD_LOG_FLOOR);
    }
}

void et_listener_calib_apply(const double b[K], float p[K])
{
    double z[K], q[K];
    et_listener_calib_logits(p, z);
    softmax_shift(z, b, q);
    for (int k = 0; k < K; k++)
        p[k] = (float)q[k];
}

bool et_listener_calib_apply_face(const et_listener_calibration *cal, et_face *face)
{
    if (!cal || !face || !cal->in_use || (unsigned)face->model >= ET_EXPR_MODEL_COUNT)
        return false;
    et_listener_calib_apply(cal->bias[face->model], face->expressions);
    int top = 0;
    for (int k = 1; k < K; k++)
        if (face->expressions[k] > face->expressions[top])
            top = k;
    face->top = (et_expression)top;
    face->smiling = face->top == ET_EXPR_HAPPY;
    return true;
}
