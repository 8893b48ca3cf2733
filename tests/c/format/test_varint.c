/* LEB128 varints and zigzag: round trips, edge values and malformed input. */
#include <string.h>

#include "tests/c/test_harness.h"
#include "core/base/varint.h"

static void test_round_trip_edges(void)
{
    const uint64_t values[] = {0, 1, 127, 128, 255, 300, 16383, 16384, UINT32_MAX,
                               (uint64_t)UINT32_MAX + 1, UINT64_MAX >> 1, UINT64_MAX};
    for (size_t index = 0; index < sizeof values / sizeof values[0]; index++) {
        uint8_t encoded[VARINT_MAX_SIZE];
        size_t size = varint_encode(values[index], encoded);
        const uint8_t *cursor = encoded;
        uint64_t decoded = 0;
        CHECK(varint_decode(&cursor, encoded + size, &decoded) == 0);
        CHECK_EQ_U64(decoded, values[index]);
        CHECK(cursor == encoded + size);
    }
}

static void test_encoded_sizes(void)
{
    uint8_t encoded[VARINT_MAX_SIZE];
    CHECK_EQ_U64(varint_encode(0, encoded), 1);
    CHECK_EQ_U64(varint_encode(127, encoded), 1);
    CHECK_EQ_U64(varint_encode(128, encoded), 2);
    CHECK_EQ_U64(varint_encode(UINT64_MAX, encoded), 10);
    CHECK_EQ_U64(varint_encode(300, encoded), 2);
    CHECK_EQ_U64(encoded[0], 0xAC);
    CHECK_EQ_U64(encoded[1], 0x02);
}

static void test_truncated_input(void)
{
    const uint8_t bytes[] = {0x80, 0x80};
    const uint8_t *cursor = bytes;
    uint64_t value = 7;
    CHECK(varint_decode(&cursor, bytes + sizeof bytes, &value) == -1);
    CHECK(cursor == bytes);
    CHECK_EQ_U64(value, 7);
    CHECK(varint_decode(&cursor, bytes, &value) == -1);
}

static void test_overlong_input(void)
{
    uint8_t eleven[11];
    memset(eleven, 0x80, sizeof eleven);
    eleven[10] = 0x01;
    const uint8_t *cursor = eleven;
    uint64_t value = 0;
    CHECK(varint_decode(&cursor, eleven + sizeof eleven, &value) == -1);
    /* Ten bytes whose last carries more than the 64th bit. */
    uint8_t too_big[10];
    memset(too_big, 0xFF, sizeof too_big);
    too_big[9] = 0x02;
    cursor = too_big;
    CHECK(varint_decode(&cursor, too_big + sizeof too_big, &value) == -1);
    too_big[9] = 0x01;
    CHECK(varint_decode(&cursor, too_big + sizeof too_big, &value) == 0);
    CHECK_EQ_U64(value, UINT64_MAX);
}

static void test_zigzag(void)
{
    const int64_t values[] = {0, -1, 1, -2, 2, INT64_MAX, INT64_MIN, -123456789};
    for (size_t index = 0; index < sizeof values / sizeof values[0]; index++) {
        CHECK(zigzag_decode(zigzag_encode(values[index])) == values[index]);
    }
    CHECK_EQ_U64(zigzag_encode(0), 0);
    CHECK_EQ_U64(zigzag_encode(-1), 1);
    CHECK_EQ_U64(zigzag_encode(1), 2);
    CHECK_EQ_U64(zigzag_encode(INT64_MIN), UINT64_MAX);
}

static void test_random_round_trips(void)
{
    uint64_t state = 0x9E3779B97F4A7C15ULL;
    for (int round = 0; round < 100000; round++) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        uint64_t value = state >> (state & 63);
        uint8_t encoded[VARINT_MAX_SIZE];
        size_t size = varint_encode(value, encoded);
        const uint8_t *cursor = encoded;
        uint64_t decoded;
        if (varint_decode(&cursor, encoded + size, &decoded) != 0 || decoded != value) {
            CHECK(!"random varint round trip");
            return;
        }
    }
}

int main(void)
{
    RUN_TEST(test_round_trip_edges);
    RUN_TEST(test_encoded_sizes);
    RUN_TEST(test_truncated_input);
    RUN_TEST(test_overlong_input);
    RUN_TEST(test_zigzag);
    RUN_TEST(test_random_round_trips);
    return test_harness_exit_code();
}
