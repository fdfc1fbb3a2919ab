// magic_tb.v -- testbench for magic.v.  Drives one pseudo-random request per
// cycle (xorshift32, fixed seed) for +nreq=<N> requests, checks every
// response against a sequential behavioural reference model of the same
// protocol, and prints response counts and a 32-bit checksum.

module magic_tb;
    // 1024 lines (magic.v defaults to 4096): the per-line initialisation,
    // reset and final checksum loops are vvp's fixed cost, ~0.06e9
    // instructions at 1024 lines vs ~0.2e9 at 4096.
    localparam LB = 10, N = 8, L = 1 << LB;

    reg clk = 0, rst = 1;
    reg req_valid = 0;
    reg [2:0] req_node;
    reg [1:0] req_op;
    reg [LB-1:0] req_line;
    reg [31:0] req_data;
    wire resp_valid;
    wire [2:0] resp_node, resp_kind;
    wire [31:0] resp_data;
    wire [N-1:0] resp_inval;
    wire [3:0] resp_ninval;

    magic #(.LB(LB), .N(N)) dut (clk, rst, req_valid, req_node, req_op,
        req_line, req_data, resp_valid, resp_node, resp_kind, resp_data,
        resp_inval, resp_ninval);

    always #5 clk = ~clk;

    // ---- reference model ----
    reg [1:0]   r_st  [0:L-1];
    reg [N-1:0] r_vec [0:L-1];
    reg [2:0]   r_own [0:L-1];
    reg [31:0]  r_mem [0:L-1];
    // expected-response FIFO
    reg [2:0]   q_node [0:7];
    reg [2:0]   q_kind [0:7];
    reg [31:0]  q_data [0:7];
    reg [N-1:0] q_inv  [0:7];
    integer qh = 0, qt = 0;

    task model(input [2:0] nd, input [1:0] op, input [LB-1:0] ln, input [31:0] d);
        reg [N-1:0] me, inv;
        reg [2:0] kind;
        begin
            me = 1 << nd; inv = 0; kind = 4;             // NACK by default
            q_data[qt] = r_mem[ln];
            if (op == 0) begin                           // GETS
                if (r_st[ln] == 2 && r_own[ln] != nd) begin
                    kind = 2; r_vec[ln] = me | (1 << r_own[ln]); r_st[ln] = 1;
                end else if (r_st[ln] != 2) begin
                    kind = 1; r_vec[ln] = r_vec[ln] | me; r_st[ln] = 1;
                end
            end else if (op == 1) begin                  // GETX
                if (!(r_st[ln] == 2 && r_own[ln] == nd)) begin
                    if (r_st[ln] == 2) begin kind = 3; inv = 1 << r_own[ln]; end
                    else begin kind = 5; inv = r_vec[ln] & ~me; end
                    r_st[ln] = 2; r_own[ln] = nd; r_vec[ln] = me; r_mem[ln] = d;
                end
            end else if (op == 2) begin                  // PUTX
                if (r_st[ln] == 2 && r_own[ln] == nd) begin
                    kind = 6; r_st[ln] = 0; r_vec[ln] = 0; r_mem[ln] = d;
                end
            end else begin                               // UPGRADE
                if (r_st[ln] == 1 && (r_vec[ln] & me) != 0) begin
                    kind = 7; inv = r_vec[ln] & ~me;
                    r_st[ln] = 2; r_own[ln] = nd; r_vec[ln] = me; r_mem[ln] = d;
                end
            end
            q_node[qt] = nd; q_kind[qt] = kind; q_inv[qt] = inv;
            qt = (qt + 1) % 8;
        end
    endtask

    // ---- stimulus ----
    reg [31:0] x = 32'd19970101;
    function [31:0] xs(input [31:0] v);
        reg [31:0] t;
        begin t = v ^ (v << 13); t = t ^ (t >> 17); xs = t ^ (t << 5); end
    endfunction

    integer nreq, issued = 0, got = 0, errors = 0, i;
    integer cnt [0:7];
    integer ninval = 0;
    reg [31:0] chk = 32'h0;

    initial begin
        if (!$value$plusargs("nreq=%d", nreq)) nreq = 1000;
        for (i = 0; i < L; i = i + 1) begin
            r_st[i] = 0; r_vec[i] = 0; r_own[i] = 0; r_mem[i] = i * 32'h9e3779b1;
        end
        for (i = 0; i < 8; i = i + 1) cnt[i] = 0;
        @(negedge clk); @(negedge clk); rst = 0;
        while (issued < nreq) begin
            x = xs(x);
            req_node = x[2:0];
            req_op   = (x[5:3] < 4) ? 0 : (x[5:3] < 6) ? 1 : (x[5:3] == 6) ? 2 : 3;
            req_line = x[6] ? {{(LB-6){1'b0}}, x[12:7]} : x[LB+12:13];   // 64 hot lines
            x = xs(x);
            req_data = x;
            req_valid = 1;
            model(req_node, req_op, req_line, req_data);
            issued = issued + 1;
            @(negedge clk);
        end
        req_valid = 0;
        @(negedge clk); @(negedge clk); @(negedge clk);
        for (i = 0; i < L; i = i + 1)
            chk = {chk[26:0], chk[31:27]} ^ (dut.mem[i] + {dut.dstate[i], dut.dvec[i], dut.downer[i]});
        $display("magic nreq=%0d responses=%0d errors=%0d invals=%0d", nreq, got, errors, ninval);
        $display("magic data=%0d fwd=%0d fwdx=%0d nack=%0d datax=%0d ack=%0d ackupg=%0d",
                 cnt[1], cnt[2], cnt[3], cnt[4], cnt[5], cnt[6], cnt[7]);
        $display("magic checksum=%08h", chk);
        $finish;
    end

    // ---- response checker ----
    always @(posedge clk) if (!rst && resp_valid) begin
        if (resp_node !== q_node[qh] || resp_kind !== q_kind[qh] ||
            resp_data !== q_data[qh] || resp_inval !== q_inv[qh]) begin
            if (errors < 5)
                $display("magic MISMATCH resp %0d: node %0d kind %0d data %h inv %b, want %0d %0d %h %b",
                         got, resp_node, resp_kind, resp_data, resp_inval,
                         q_node[qh], q_kind[qh], q_data[qh], q_inv[qh]);
            errors = errors + 1;
        end
        qh = (qh + 1) % 8;
        got = got + 1;
        cnt[resp_kind] = cnt[resp_kind] + 1;
        ninval = ninval + resp_ninval;
        chk = {chk[30:0], chk[31]} ^ (resp_data + {resp_kind, resp_node, resp_inval});
    end
endmodule
