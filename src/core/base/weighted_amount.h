/* A weighted amount: the bytes and blocks a set of recorded blocks stands
 * for under sampling, the variance of the bytes, and the bytes actually
 * recorded. Shared by the recorder's figures, the aggregate chunks that
 * carry them and the reader. */
#ifndef MEMLYZE_WEIGHTED_AMOUNT_H
#define MEMLYZE_WEIGHTED_AMOUNT_H

struct weighted_amount {
    double bytes;
    double count;
    double bytes_variance;
    double observed_bytes;
};

#endif
