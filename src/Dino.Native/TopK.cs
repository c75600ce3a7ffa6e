namespace Dino;

/// <summary>The k best of many scored items, kept in a min-heap of k, for search and the k-NN vote.</summary>
internal static class TopK
{
    /// <summary>
    /// The <paramref name="k"/> items of 0..count-1 with the highest scores, best first; of equal scores the earlier
    /// item first, so that the same inputs always give the same answer. A NaN score ranks below every number.
    /// </summary>
    public static List<(int Item, double Score)> Best(int count, int k, Func<int, double> score)
    {
        var heap = new PriorityQueue<int, (double score, int order)>();
        for (int i = 0; i < count; i++)
        {
            double s = score(i);
            var key = (double.IsNaN(s) ? double.NegativeInfinity : s, -i);
            if (heap.Count < k) heap.Enqueue(i, key);
            else if (heap.TryPeek(out _, out var worst) && key.CompareTo(worst) > 0) heap.EnqueueDequeue(i, key);
        }
        var best = new List<(int, double)>(heap.Count);
        while (heap.TryDequeue(out int i, out var key)) best.Add((i, key.score));
        best.Reverse();
        return best;
    }
}
