// magic.v -- a two-stage pipelined directory protocol engine, a toy stand-in
// for the protocol processor of the FLASH MAGIC chip (disco "engineering"
// workload).  One request per cycle enters stage 1, which reads the
// directory and memory SRAMs (with forwarding from stage 2's write-back);
// stage 2 runs the protocol, writes the new directory entry / memory word
// and emits the response.
//
// Directory states: I (uncached), S (shared, sharer bit-vector), M (one
// owner holds the line dirty).  Requests: GETS, GETX, PUTX, UPGRADE.
// Responses: DATA, FWD, FWDX, NACK, DATAX, ACK, ACKUPG.

`define OP_GETS 2'd0
`define OP_GETX 2'd1
`define OP_PUTX 2'd2
`define OP_UPG  2'd3

`define ST_I 2'd0
`define ST_S 2'd1
`define ST_M 2'd2

`define R_DATA   3'd1
`define R_FWD    3'd2
`define R_FWDX   3'd3
`define R_NACK   3'd4
`define R_DATAX  3'd5
`define R_ACK    3'd6
`define R_ACKUPG 3'd7

module magic #(parameter LB = 12, parameter N = 8) (
    input              clk,
    input              rst,
    input              req_valid,
    input      [2:0]   req_node,
    input      [1:0]   req_op,
    input      [LB-1:0] req_line,
    input      [31:0]  req_data,
    output reg         resp_valid,
    output reg [2:0]   resp_node,
    output reg [2:0]   resp_kind,
    output reg [31:0]  resp_data,
    output reg [N-1:0] resp_inval,
    output reg [3:0]   resp_ninval
);
    // SRAMs
    reg [1:0]   dstate [0:(1<<LB)-1];
    reg [N-1:0] dvec   [0:(1<<LB)-1];
    reg [2:0]   downer [0:(1<<LB)-1];
    reg [31:0]  mem    [0:(1<<LB)-1];

    // stage-1 -> stage-2 pipeline registers
    reg          s2_valid;
    reg [2:0]    s2_node;
    reg [1:0]    s2_op;
    reg [LB-1:0] s2_line;
    reg [31:0]   s2_data;
    reg [1:0]    s2_st;
    reg [N-1:0]  s2_vec;
    reg [2:0]    s2_own;
    reg [31:0]   s2_mem;

    // stage-2 protocol logic (combinational)
    reg [1:0]   n_st;
    reg [N-1:0] n_vec;
    reg [2:0]   n_own;
    reg [31:0]  n_mem;
    reg [2:0]   n_kind;
    reg [N-1:0] n_inval;
    reg [N-1:0] me;

    always @* begin
        me      = {{(N-1){1'b0}}, 1'b1} << s2_node;
        n_st    = s2_st;
        n_vec   = s2_vec;
        n_own   = s2_own;
        n_mem   = s2_mem;
        n_kind  = `R_NACK;
        n_inval = {N{1'b0}};
        case (s2_op)
        `OP_GETS:
            if (s2_st == `ST_M && s2_own == s2_node)
                n_kind = `R_NACK;
            else if (s2_st == `ST_M) begin
                n_kind = `R_FWD;
                n_st   = `ST_S;
                n_vec  = me | ({{(N-1){1'b0}}, 1'b1} << s2_own);
            end else begin
                n_kind = `R_DATA;
                n_st   = `ST_S;
                n_vec  = s2_vec | me;
            end
        `OP_GETX:
            if (s2_st == `ST_M && s2_own == s2_node)
                n_kind = `R_NACK;
            else begin
                if (s2_st == `ST_M) begin
                    n_kind  = `R_FWDX;
                    n_inval = {{(N-1){1'b0}}, 1'b1} << s2_own;
                end else begin
                    n_kind  = `R_DATAX;
                    n_inval = s2_vec & ~me;
                end
                n_st  = `ST_M;
                n_own = s2_node;
                n_vec = me;
                n_mem = s2_data;
            end
        `OP_PUTX:
            if (s2_st == `ST_M && s2_own == s2_node) begin
                n_kind = `R_ACK;
                n_st   = `ST_I;
                n_vec  = {N{1'b0}};
                n_mem  = s2_data;
            end
        `OP_UPG:
            if (s2_st == `ST_S && (s2_vec & me) != 0) begin
                n_kind  = `R_ACKUPG;
                n_inval = s2_vec & ~me;
                n_st    = `ST_M;
                n_own   = s2_node;
                n_vec   = me;
                n_mem   = s2_data;
            end
        endcase
    end

    function [3:0] popcount(input [N-1:0] v);
        integer i;
        begin
            popcount = 0;
            for (i = 0; i < N; i = i + 1) popcount = popcount + v[i];
        end
    endfunction

    wire fwd = s2_valid && req_valid && (s2_line == req_line);
    integer k;

    always @(posedge clk) begin
        if (rst) begin
            for (k = 0; k < (1<<LB); k = k + 1) begin
                dstate[k] <= `ST_I;
                dvec[k]   <= {N{1'b0}};
                downer[k] <= 3'd0;
                mem[k]    <= k * 32'h9e3779b1;
            end
            s2_valid   <= 1'b0;
            resp_valid <= 1'b0;
        end else begin
            // stage 1: SRAM read, forwarding the value stage 2 writes now
            s2_valid <= req_valid;
            s2_node  <= req_node;
            s2_op    <= req_op;
            s2_line  <= req_line;
            s2_data  <= req_data;
            s2_st    <= fwd ? n_st  : dstate[req_line];
            s2_vec   <= fwd ? n_vec : dvec[req_line];
            s2_own   <= fwd ? n_own : downer[req_line];
            s2_mem   <= fwd ? n_mem : mem[req_line];
            // stage 2: write back and respond
            resp_valid <= s2_valid;
            if (s2_valid) begin
                dstate[s2_line] <= n_st;
                dvec[s2_line]   <= n_vec;
                downer[s2_line] <= n_own;
                mem[s2_line]    <= n_mem;
                resp_node   <= s2_node;
                resp_kind   <= n_kind;
                resp_data   <= s2_mem;
                resp_inval  <= n_inval;
                resp_ninval <= popcount(n_inval);
            end
        end
    end
endmodule
